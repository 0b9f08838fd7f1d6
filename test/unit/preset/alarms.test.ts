import { describe, expect, it, vi } from "vitest";
import { Alarms, UPSTREAM_IDLE_MS } from "../../../src/preset/alarms";

describe("Alarms", () => {
  it("sets the one alarm for the earliest time any job asked for", () => {
    const setAlarm = vi.fn(async (_at: number) => {});
    const alarms = new Alarms({ setAlarm });
    alarms.schedule(5_000);
    alarms.schedule(9_000); // later: the alarm at 5,000 runs every job anyway
    alarms.schedule(2_000);
    expect(setAlarm.mock.calls.map(([at]) => at)).toEqual([5_000, 2_000]);
  });

  it("takes any time again once the alarm fired", () => {
    const setAlarm = vi.fn(async (_at: number) => {});
    const alarms = new Alarms({ setAlarm });
    alarms.schedule(1_000);
    alarms.fired();
    alarms.schedule(60_000);
    expect(setAlarm.mock.calls.map(([at]) => at)).toEqual([1_000, 60_000]);
  });

  it("schedules the idle sweep UPSTREAM_IDLE_MS from now", () => {
    const setAlarm = vi.fn(async (_at: number) => {});
    new Alarms({ setAlarm }).scheduleSweep(10_000);
    expect(setAlarm).toHaveBeenCalledWith(10_000 + UPSTREAM_IDLE_MS);
  });

  it("forgets a time it could not set, so the next request sets it again", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const setAlarm = vi.fn(async (_at: number) => {}).mockRejectedValueOnce(new Error("storage unavailable"));
    const alarms = new Alarms({ setAlarm });
    alarms.schedule(3_000);
    await vi.waitFor(() => expect(error).toHaveBeenCalled());
    alarms.schedule(3_000);
    expect(setAlarm).toHaveBeenCalledTimes(2);
    error.mockRestore();
  });
});
