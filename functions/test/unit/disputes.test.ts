import {
  countOpenDisputes,
  decideDisputeTransition,
  disputeEntries,
  disputeOutcomeFromStatus,
  type DisputeEvent,
  type DisputeRecord,
} from "../../src/domain/disputes";

const base = {
  amount: 500,
  providerPaymentId: "pi_1",
  closedEvent: false,
  withdrawn: false,
  reinstated: false,
};
const created: DisputeEvent = { ...base, status: "needs_response" };
const withdrawn: DisputeEvent = { ...base, status: "needs_response", withdrawn: true };
const reviewed: DisputeEvent = { ...base, status: "under_review", withdrawn: true };
const lost: DisputeEvent = { ...base, status: "lost", closedEvent: true, withdrawn: true };
const won: DisputeEvent = { ...base, status: "won", closedEvent: true, withdrawn: true };
/** `charge.dispute.funds_reinstated`: the dispute object says won, its balance shows both movements. */
const reinstated: DisputeEvent = { ...base, status: "won", withdrawn: true, reinstated: true };
const inquiry: DisputeEvent = { ...base, status: "warning_needs_response" };
const inquiryClosed: DisputeEvent = { ...base, status: "warning_closed", closedEvent: true };

/** Money the entries stand for: −amount per take-back, +amount per reinstatement. */
function run(events: readonly DisputeEvent[]): {
  record: DisputeRecord | undefined;
  money: number;
  ids: string[];
} {
  let record: DisputeRecord | undefined;
  for (const e of events) {
    const d = decideDisputeTransition(record, e);
    if (d.kind === "set") record = d.record;
  }
  const entries = record === undefined ? { takeBack: false, reinstatement: false } : disputeEntries(record);
  const ids = [...(entries.takeBack ? ["take-back"] : []), ...(entries.reinstatement ? ["reinstated"] : [])];
  return { record, money: (entries.takeBack ? -500 : 0) + (entries.reinstatement ? 500 : 0), ids };
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

describe("a dispute's lifecycle", () => {
  it.each([
    ["opened", [created], "open", null, 0, []],
    ["funds withdrawn while open move nothing", [created, withdrawn, reviewed], "open", null, 0, []],
    [
      "lost takes the amount back",
      [created, withdrawn, reviewed, lost],
      "closed",
      "lost",
      -500,
      ["take-back"],
    ],
    [
      "won with its funds reinstated: net zero",
      [created, withdrawn, won, reinstated],
      "closed",
      "won",
      0,
      ["take-back", "reinstated"],
    ],
    ["won (no reinstatement event yet): nothing moved", [created, won], "closed", "won", 0, []],
    [
      "won after lost (appeal): the take-back is given back",
      [created, lost, won],
      "closed",
      "won",
      0,
      ["take-back", "reinstated"],
    ],
    ["reinstated after lost", [lost, reinstated], "closed", "won", 0, ["take-back", "reinstated"]],
    ["an inquiry closed: no money", [inquiry, inquiryClosed], "closed", "won", 0, []],
    ["prevented: no money", [{ ...base, status: "prevented", closedEvent: true }], "closed", "won", 0, []],
    [
      "another terminal status: other",
      [created, { ...base, status: "charge_refunded", closedEvent: true }],
      "closed",
      "other",
      0,
      [],
    ],
  ] as const)("%s", (_label, events, status, outcome, money, ids) => {
    const result = run(events);
    expect(result.record).toMatchObject({ status, outcome });
    expect(result.money).toBe(money);
    expect(result.ids).toEqual(ids);
  });

  it("every arrival order of the same events, and any duplicate, ends in the same record and entries", () => {
    for (const events of [
      [created, withdrawn, reviewed, lost],
      [created, withdrawn, lost, won, reinstated],
      [created, withdrawn, won, reinstated],
      [created, lost, won],
      [inquiry, inquiryClosed],
    ]) {
      const expected = run(events);
      for (const order of permutations(events)) {
        expect(run(order)).toEqual(expected);
        expect(run([...order, ...order.slice(0, 2)])).toEqual(expected);
      }
    }
  });

  it("closed is final: nothing reopens it; a later stage or a duplicate changes nothing", () => {
    const closed = run([created, lost]).record;
    expect(decideDisputeTransition(closed, created)).toEqual({ kind: "ignore" });
    expect(decideDisputeTransition(closed, lost)).toEqual({ kind: "ignore" });
    expect(run([created, lost, reviewed]).record?.status).toBe("closed");
  });

  it("keeps the furthest stage and the funds facts for admins", () => {
    expect(run([reviewed, created]).record).toMatchObject({ stage: "under_review", fundsWithdrawn: true });
    expect(run([created, lost, reinstated]).record).toMatchObject({ fundsReinstated: true, lostSeen: true });
  });

  it("reads records written before the lifecycle was complete (no lostSeen)", () => {
    const old: DisputeRecord = { status: "closed", outcome: "lost", amount: 500, providerPaymentId: "pi_1" };
    expect(disputeEntries(old)).toEqual({ takeBack: true, reinstatement: false });
    const appealed = decideDisputeTransition(old, reinstated);
    expect(appealed).toMatchObject({ kind: "set", entries: { takeBack: true, reinstatement: true } });
  });

  it("maps Stripe statuses", () => {
    expect(disputeOutcomeFromStatus("lost")).toBe("lost");
    expect(disputeOutcomeFromStatus("won")).toBe("won");
    expect(disputeOutcomeFromStatus("warning_closed")).toBe("won");
    expect(disputeOutcomeFromStatus("prevented")).toBe("won");
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
