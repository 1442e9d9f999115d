import {
  countOpenDisputes,
  decideDisputeTransition,
  disputeOutcomeFromStatus,
  type DisputeEvent,
  type DisputeRecord,
} from "../../src/domain/disputes";

const created: DisputeEvent = { kind: "created", amount: 500, providerPaymentId: "pi_1" };
const lost: DisputeEvent = { kind: "closed", outcome: "lost", amount: 500, providerPaymentId: "pi_1" };
const won: DisputeEvent = { kind: "closed", outcome: "won", amount: 500, providerPaymentId: "pi_1" };

function run(events: DisputeEvent[]): { record: DisputeRecord | undefined; adjustments: number[] } {
  let record: DisputeRecord | undefined;
  const adjustments: number[] = [];
  for (const e of events) {
    const d = decideDisputeTransition(record, e);
    if (d.kind === "set") {
      record = d.record;
      if (d.adjustmentAmount !== null) adjustments.push(d.adjustmentAmount);
    }
  }
  return { record, adjustments };
}

describe("dispute state", () => {
  it("opens, then closes; lost yields one −amount adjustment", () => {
    expect(run([created, lost])).toEqual({
      record: { status: "closed", outcome: "lost", amount: 500, providerPaymentId: "pi_1" },
      adjustments: [-500],
    });
  });
  it("closed is final: a late created (or a second close) is ignored", () => {
    expect(run([lost, created])).toEqual(run([created, lost]));
    expect(run([won, created, lost]).record?.outcome).toBe("won");
    expect(run([created, created]).record?.status).toBe("open");
  });
  it("won closes without money", () => {
    expect(run([created, won]).adjustments).toEqual([]);
  });
  it("maps Stripe statuses", () => {
    expect(disputeOutcomeFromStatus("lost")).toBe("lost");
    expect(disputeOutcomeFromStatus("won")).toBe("won");
    expect(disputeOutcomeFromStatus("warning_closed")).toBe("won");
    expect(disputeOutcomeFromStatus("under_review")).toBe("other");
  });
  it("counts open disputes", () => {
    expect(
      countOpenDisputes({
        a: { status: "open", outcome: null, amount: 1, providerPaymentId: "p" },
        b: { status: "closed", outcome: "won", amount: 1, providerPaymentId: "p" },
        c: { status: "open", outcome: null, amount: 1, providerPaymentId: "p" },
      }),
    ).toBe(2);
  });
});
