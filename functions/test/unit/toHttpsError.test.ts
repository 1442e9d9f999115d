import { HttpsError } from "firebase-functions/v2/https";
import { AppError } from "../../src/shared/errors";
import { toHttpsError } from "../../src/shared/validatedOnCall";

describe("toHttpsError: what a client may see", () => {
  const fields = { callable: "startPayment", uid: "u1" };

  it("keeps an AppError's code and message", () => {
    const e = toHttpsError(new AppError("failed-precondition", "Enroll in the course first."), fields);
    expect(e).toBeInstanceOf(HttpsError);
    expect([e.code, e.message]).toEqual(["failed-precondition", "Enroll in the course first."]);
  });

  it("maps transient Firestore errors to unavailable (retry the same request)", () => {
    const e = toHttpsError(Object.assign(new Error("14 UNAVAILABLE: x"), { code: 14 }), fields);
    expect(e.code).toBe("unavailable");
  });

  it("maps an unknown commit outcome (lost reply, re-sent commit) to unavailable, not internal", () => {
    const lost = Object.assign(
      new Error("3 INVALID_ARGUMENT: The referenced transaction has expired or is no longer valid."),
      { code: 3 },
    );
    expect(toHttpsError(lost, fields).code).toBe("unavailable");
  });

  it("hides everything else behind internal with a generic message", () => {
    const e = toHttpsError(new Error("secret detail: stack and paths"), fields);
    expect([e.code, e.message]).toEqual(["internal", "Internal error."]);
    const plainInvalid = Object.assign(new Error("3 INVALID_ARGUMENT: bad field"), { code: 3 });
    expect(toHttpsError(plainInvalid, fields).code).toBe("internal");
  });
});
