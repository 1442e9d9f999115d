/**
 * Variant (c)'s trigger work, run for real: the local Firestore delivers one CloudEvent per matching write (each
 * enrollment write to the built `onEnrollmentWritten`; every Firestore trigger the entry point exports) through
 * the shared in-process trigger host (src/shared/triggerHost.ts), as Cloud Functions would. A phase is over only
 * when every delivery is done, so its time includes the triggers' work.
 *
 * The gate holds invocations while closed: the clean phase counts the webhook's own operations (its critical
 * path), then opens the gate and counts what the trigger adds.
 */
import type { CloudEventFunctionLike } from "../shared/backend";
import { Rng } from "../shared/rng";
import { TriggerHost } from "../shared/triggerHost";
import type { BenchFirestore } from "./firestoreProcess";

export class TriggerGate {
  private open = true;
  private waiting: (() => void)[] = [];

  close(): void {
    this.open = false;
  }

  release(): void {
    this.open = true;
    for (const resume of this.waiting.splice(0)) resume();
  }

  wrap(fn: CloudEventFunctionLike): CloudEventFunctionLike {
    const gated: CloudEventFunctionLike = async (event) => {
      if (!this.open) await new Promise<void>((resume) => this.waiting.push(resume));
      return fn(event);
    };
    if (fn.__endpoint !== undefined) gated.__endpoint = fn.__endpoint;
    return gated;
  }
}

/**
 * The trigger host for every Firestore trigger of the backend (each event delivered once: Cloud Functions' usual
 * case): onEnrollmentWritten on each enrollment write, as deployed.
 */
export async function startTriggerHost(
  triggers: Record<string, CloudEventFunctionLike>,
  gate: TriggerGate,
  seed: number,
): Promise<TriggerHost> {
  const host = new TriggerHost(
    Object.fromEntries(Object.entries(triggers).map(([name, fn]) => [name, gate.wrap(fn)])),
    { rng: Rng.derive(seed, "bench-triggers"), duplicateProbability: 0 },
  );
  await host.listen();
  return host;
}

/** Every trigger delivery queued so far done (a trigger's own write queues another event; loop until quiet). */
export async function settleTriggers(server: BenchFirestore): Promise<void> {
  while ((await server.triggersIdle()).pending > 0);
}
