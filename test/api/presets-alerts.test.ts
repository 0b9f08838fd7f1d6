import { describe, expect, it } from "vitest";
import { addPreset, api, createUser, unique } from "../helpers";
import { expectError, expectInvalid } from "./expect-error";

const DEFAULTS = {
  errorRate: { threshold: 0.2, windowMinutes: 5, minCalls: 20 },
  rateLimitSurge: { threshold: 50, windowMinutes: 5 },
  upstreamUnreachable: { failures: 3 },
};

async function ownPreset() {
  const user = await createUser();
  const slug = unique("alerts");
  await addPreset(user, slug);
  const patch = (alerts: unknown) => api("PATCH", `/presets/${slug}`, { token: user.token, body: { alerts } });
  return { user, slug, patch };
}

describe("preset alert settings", () => {
  it("runs every detector at its default until the owner sets one", async () => {
    const { user, slug } = await ownPreset();
    const res = await api("GET", `/presets/${slug}`, { token: user.token });
    expect(res.body.alerts).toEqual(DEFAULTS);
  });

  it("sets detectors with PATCH, turns one off with false, keeps the others at their defaults, and resets with null", async () => {
    const { user, slug, patch } = await ownPreset();
    const set = await patch({ errorRate: { threshold: 0.5, windowMinutes: 10, minCalls: 4 }, rateLimitSurge: false });
    expect(set.status).toBe(200);
    expect(set.body.alerts).toEqual({ ...DEFAULTS, errorRate: { threshold: 0.5, windowMinutes: 10, minCalls: 4 }, rateLimitSurge: false });
    expect((await api("GET", `/presets/${slug}`, { token: user.token })).body.alerts).toEqual(set.body.alerts);
    // PATCH alerts replaces the whole setting: what it leaves out is back at its default.
    expect((await patch({ upstreamUnreachable: { failures: 1 } })).body.alerts).toEqual({ ...DEFAULTS, upstreamUnreachable: { failures: 1 } });
    expect((await patch(null)).body.alerts).toEqual(DEFAULTS);
    const events = await api("GET", `/presets/${slug}/events?type=preset.updated`, { token: user.token });
    expect(events.body.events[0].payload).toEqual({ changed: ["alerts"] });
  });

  it("takes alerts when the preset is created", async () => {
    const user = await createUser();
    const res = await api("POST", "/presets", {
      token: user.token,
      body: { slug: unique("alerts"), name: "A", visibility: "public", alerts: { upstreamUnreachable: false } },
    });
    expect(res.status).toBe(201);
    expect(res.body.alerts).toEqual({ ...DEFAULTS, upstreamUnreachable: false });
  });

  it.each([
    [{ errorRate: { threshold: 1.5, windowMinutes: 5, minCalls: 20 } }, "alerts.errorRate.threshold"],
    [{ errorRate: { threshold: 0, windowMinutes: 5, minCalls: 20 } }, "alerts.errorRate.threshold"],
    [{ errorRate: { threshold: 0.2, windowMinutes: 0, minCalls: 20 } }, "alerts.errorRate.windowMinutes"],
    [{ errorRate: { threshold: 0.2, windowMinutes: 61, minCalls: 20 } }, "alerts.errorRate.windowMinutes"],
    [{ errorRate: { threshold: 0.2, windowMinutes: 5, minCalls: 1.5 } }, "alerts.errorRate.minCalls"],
    [{ errorRate: { threshold: 0.2, windowMinutes: 5 } }, "alerts.errorRate.minCalls"],
    [{ errorRate: true }, "alerts.errorRate"],
    [{ rateLimitSurge: { threshold: 0, windowMinutes: 5 } }, "alerts.rateLimitSurge.threshold"],
    [{ rateLimitSurge: "many" }, "alerts.rateLimitSurge"],
    [{ upstreamUnreachable: { failures: 101 } }, "alerts.upstreamUnreachable.failures"],
  ])("refuses %j with 400 naming %s", async (alerts, field) => {
    const { patch } = await ownPreset();
    expectInvalid(await patch(alerts), field);
  });

  it("refuses unknown detectors and unknown fields of one", async () => {
    const { patch } = await ownPreset();
    const unknown = await patch({ errorRates: false });
    expectError(unknown, 400, "unknown_field");
    expect(unknown.body.error).toMatchObject({ field: "alerts.errorRates", message: expect.stringContaining("errorRates") });
    const unknownInside = await patch({ rateLimitSurge: { threshold: 5, windowMinutes: 5, perCaller: true } });
    expectError(unknownInside, 400, "unknown_field");
    expect(unknownInside.body.error).toMatchObject({ field: "alerts.rateLimitSurge.perCaller", message: expect.stringContaining("perCaller") });
    expectInvalid(await patch("on"), "alerts");
  });
});
