import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { expect, vi } from "vitest";
import { UPSTREAM_IDLE_MS } from "../src/preset/alarms";

/**
 * @module The preset's Durable Object as tests drive it from outside: through its alarm, as the
 * runtime would, never through a method that exists for tests.
 */

/** Runs `fn` inside a new preset object, on its empty storage: for the parts that live on a Durable Object's SQLite. */
export function inFreshObject<T>(fn: (state: DurableObjectState) => T | Promise<T>): Promise<T> {
  return runInDurableObject(env.PRESETS.get(env.PRESETS.newUniqueId()), (_instance, state) => fn(state));
}

/**
 * Runs the preset object's alarm as if UPSTREAM_IDLE_MS had passed since its last upstream call,
 * so it closes its upstream sessions (the next call opens new ones). An open upstream session keeps
 * the object in memory, so this is also what lets `evictDurableObject` take it down.
 *
 * The Durable Objects of the worker under test run in the test's isolate, so faking `Date` here
 * moves the object's clock too; nothing else is faked (timers run as usual).
 */
export async function closeIdleUpstreams(stub: DurableObjectStub): Promise<void> {
  vi.useFakeTimers({ toFake: ["Date"] });
  try {
    vi.setSystemTime(Date.now() + UPSTREAM_IDLE_MS + 1);
    expect(await runDurableObjectAlarm(stub), "the preset object has an alarm set while upstream sessions are open").toBe(true);
  } finally {
    vi.useRealTimers();
  }
}
