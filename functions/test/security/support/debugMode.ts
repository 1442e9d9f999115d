/**
 * Imported first by the App Check suite: firebase-functions reads FIREBASE_DEBUG_MODE once, when it is loaded, and
 * the functions emulator runs it with debug mode on. FIREBASE_DEBUG_FEATURES is read per request, so a test chooses
 * per request between the emulator's behaviour (`skipTokenVerification`: tokens decoded, not verified) and
 * production's (`{}`: firebase-admin verifies them).
 */
process.env.FIREBASE_DEBUG_MODE = "true";
process.env.FIREBASE_DEBUG_FEATURES = "{}";
