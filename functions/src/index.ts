export { enrollInCourse } from "./functions/enrollInCourse";
export { onEnrollmentWritten } from "./functions/onEnrollmentWritten";
export { paymentWebhook } from "./functions/paymentWebhook";
export { recordManualPayment } from "./functions/recordManualPayment";
export { refundPayment } from "./functions/refundPayment";
export { startPayment } from "./functions/startPayment";
export { upsertCourse } from "./functions/upsertCourse";
