/** The payment provider interface: what the backend needs from Stripe (or the local stand-in). */

export interface PaymentMetadata {
  uid: string;
  courseId: string;
  checkoutId: string;
}

export interface CreatePaymentParams {
  amount: number;
  currency: string;
  /** Same key ⇒ same provider payment (Stripe idempotency key). */
  idempotencyKey: string;
  metadata: PaymentMetadata;
}

export interface CreatedPayment {
  paymentId: string;
  clientSecret: string;
}

export interface CreateRefundParams {
  paymentId: string;
  /** Cents; omitted = refund everything refundable. */
  amount: number | undefined;
  idempotencyKey: string;
  metadata: { uid: string; courseId: string };
}

export interface CreatedRefund {
  refundId: string;
  amount: number;
  status: string;
}

export interface PaymentProvider {
  readonly name: "stripe" | "local";
  createPayment(params: CreatePaymentParams): Promise<CreatedPayment>;
  createRefund(params: CreateRefundParams): Promise<CreatedRefund>;
}
