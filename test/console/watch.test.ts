import { describe, expect, it } from "vitest";
import { parseNdjson } from "../../src/shared/ndjson";
import { api, connectClient, createUser, EVENTUALLY, type GivenPreset, givenPreset, type TestUser, upstreamUrl } from "../helpers";
import { ConsoleBrowser } from "./console-helpers";

async function signedIn(user: TestUser): Promise<ConsoleBrowser> {
  const browser = new ConsoleBrowser();
  expect((await browser.signIn(user)).status).toBe(303);
  return browser;
}

/** A preset on the alpha fixture with real SDK calls through it: 3 echo (ok) and 1 fail (tool_error). */
async function usedPreset(extra: { auditCalls?: boolean } = {}): Promise<GivenPreset> {
  const p = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo", "fail"] }], pinning: "off", ...extra });
  const client = await connectClient(p.url, { token: p.owner.token });
  for (const text of ["a", "b", "c"]) await client.callTool({ name: "alpha__echo", arguments: { text } });
  expect((await client.callTool({ name: "alpha__fail", arguments: {} })).isError).toBe(true);
  await client.close();
  return p;
}

async function page(browser: ConsoleBrowser, path: string): Promise<{ status: number; html: string; res: Response }> {
  const res = await browser.get(path);
  return { status: res.status, html: await res.text(), res };
}

const num = (html: string, re: RegExp): number => Number(re.exec(html)?.[1] ?? Number.NaN);
const outcomeCount = (html: string, o: string) => num(html, new RegExp(`data-outcome="${o}"><th scope="row">[^<]*</th><td class="num">(\\d+)<`));
const toolCalls = (html: string, tool: string) => num(html, new RegExp(`<code>${tool}</code>(?:<span[^>]*>[^<]*</span>)?</th><td class="num">(\\d+)<`));
const rowsOf = (html: string, attr: string) => [...html.matchAll(new RegExp(`<tr ${attr}="([^"]+)"`, "g"))].map((m) => m[1]);

describe("console Watch dashboard", () => {
  it("shows the calls made through the preset: totals, per tool and per outcome", async () => {
    const p = await usedPreset();
    const browser = await signedIn(p.owner);
    const { status, html } = await page(browser, `/console/presets/${p.slug}/watch`);
    expect(status).toBe(200);
    expect(num(html, /<dd id="total-calls">(\d+)</)).toBe(4);
    expect(html).toContain('<dd id="total-errors">1 (25%)</dd>');
    expect(toolCalls(html, "alpha__echo")).toBe(3);
    expect(toolCalls(html, "alpha__fail")).toBe(1);
    expect(outcomeCount(html, "ok")).toBe(3);
    expect(outcomeCount(html, "tool_error")).toBe(1);
    expect(outcomeCount(html, "rate_limited")).toBe(0);
    expect(html).toContain(`<code>${p.owner.handle}</code>`);
    // The chart has a text alternative naming the totals, and the default window is marked current.
    expect(html).toMatch(/<svg class="chart"[^>]*role="img"[^>]*aria-labelledby="calls-chart-title calls-chart-desc"/);
    expect(html).toMatch(/<desc id="calls-chart-desc">4 calls and 1 errors in the last 24 hours/);
    // The calls are in the series too (a minute bucket inside a 15-minute step must not drop out): one bar, and its row.
    const chart = /<svg class="chart".*?<\/svg>/s.exec(html)?.[0] ?? "";
    expect(chart.match(/<g class="s-calls"><rect /g)).toHaveLength(1);
    expect(html).toMatch(/Busiest: 4 calls from/);
    expect(html).toMatch(/<tbody><tr><th scope="row">[-0-9: ]+<\/th><td class="num">4<\/td><td class="num">1<\/td>/);
    expect(html).toContain(`href="/console/presets/${p.slug}/watch?window=24h" aria-current="page"`);
    // The preset page links to it.
    expect((await page(browser, `/console/presets/${p.slug}`)).html).toContain(`href="/console/presets/${p.slug}/watch"`);
  });

  it("switches the window with a link and marks it current; a bad window is a 400 naming it", async () => {
    const p = await usedPreset();
    const browser = await signedIn(p.owner);
    for (const w of ["1h", "7d", "30d"]) {
      const { status, html } = await page(browser, `/console/presets/${p.slug}/watch?window=${w}`);
      expect(status).toBe(200);
      expect(html).toContain(`watch?window=${w}" aria-current="page"`);
      expect(html.match(/aria-current="page"/g)).toHaveLength(2); // the tab and the window
      expect(num(html, /<dd id="total-calls">(\d+)</)).toBe(4);
    }
    const bad = await page(browser, `/console/presets/${p.slug}/watch?window=2y`);
    expect(bad.status).toBe(400);
    expect(bad.html).toMatch(/role="alert">window: /);
  });

  it("answers 404 for someone else's preset on every Watch page", async () => {
    const p = await usedPreset();
    const stranger = await signedIn(await createUser());
    for (const path of ["watch", "events", "events.ndjson", "calls"]) {
      const { status, html } = await page(stranger, `/console/presets/${p.slug}/${path}`);
      expect(status, path).toBe(404);
      expect(html).not.toContain("alpha__echo");
    }
  });

  it("sends a signed-out browser to the sign-in page", async () => {
    const res = await new ConsoleBrowser().get("/console/presets/any/watch");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console/signin");
  });
});

describe("console audit trail", () => {
  async function withUpdates(): Promise<GivenPreset> {
    const p = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] });
    for (const name of ["one", "two", "three"]) {
      expect((await api("PATCH", `/presets/${p.slug}`, { token: p.owner.token, body: { name } })).status).toBe(200);
    }
    return p;
  }

  it("lists events newest first, filters by type and pages with Older", async () => {
    const p = await withUpdates();
    const browser = await signedIn(p.owner);
    const all = await page(browser, `/console/presets/${p.slug}/events`);
    expect(all.status).toBe(200);
    expect(rowsOf(all.html, "data-type")).toEqual(["preset.updated", "preset.updated", "preset.updated", "server.attached", "preset.created"]);

    const first = await page(browser, `/console/presets/${p.slug}/events?type=preset.updated&from=&to=&limit=2`);
    expect(rowsOf(first.html, "data-type")).toEqual(["preset.updated", "preset.updated"]);
    expect(first.html).toContain('value="preset.updated"');
    const older = /href="([^"]+)" rel="next">Older/.exec(first.html)?.[1]?.replaceAll("&amp;", "&");
    const params = new URL(older!, "http://x").searchParams;
    expect([params.get("type"), params.get("limit"), params.get("cursor")?.length]).toEqual(["preset.updated", "2", expect.any(Number)]);
    const second = await page(browser, older!);
    expect(rowsOf(second.html, "data-type")).toEqual(["preset.updated"]);
    expect(second.html).not.toContain("Older");
    expect(second.html).toContain(">Newest</a>");
  });

  it("filters by time: nothing after a future start, nothing before a past end", async () => {
    const p = await withUpdates();
    const browser = await signedIn(p.owner);
    const later = new Date(Date.now() + 3_600_000).toISOString().slice(0, 16);
    const earlier = new Date(Date.now() - 3_600_000).toISOString().slice(0, 16);
    const future = await page(browser, `/console/presets/${p.slug}/events?from=${later}`);
    expect(rowsOf(future.html, "data-type")).toEqual([]);
    expect(future.html).toContain("No events match.");
    expect(future.html).toContain(`value="${later}:00"`);
    expect(rowsOf((await page(browser, `/console/presets/${p.slug}/events?to=${earlier}`)).html, "data-type")).toEqual([]);
    expect(rowsOf((await page(browser, `/console/presets/${p.slug}/events?from=${earlier}`)).html, "data-type")).toHaveLength(5);
  });

  it("refuses bad filters with a 400 page naming the field", async () => {
    const p = await withUpdates();
    const browser = await signedIn(p.owner);
    for (const [query, field] of [
      ["from=yesterday", "from"],
      ["to=2026-13-45T10:00", "to"],
      ["type=DROP%20TABLE", "type"],
      ["limit=500", "limit"],
      ["cursor=forged", "cursor"],
    ]) {
      const { status, html } = await page(browser, `/console/presets/${p.slug}/events?${query}`);
      expect(status, query).toBe(400);
      expect(html, query).toMatch(new RegExp(`role="alert">${field}`));
    }
  });

  it("exports the filtered events as NDJSON through the session", async () => {
    const p = await withUpdates();
    const browser = await signedIn(p.owner);
    const list = await page(browser, `/console/presets/${p.slug}/events?type=preset.updated`);
    const href = /href="([^"]+\.ndjson[^"]*)"/.exec(list.html)?.[1]?.replaceAll("&amp;", "&");
    expect(href).toBe(`/console/presets/${p.slug}/events.ndjson?type=preset.updated`);
    const res = await browser.get(href!);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${p.slug}-events.ndjson"`);
    const lines = parseNdjson(new TextDecoder().decode(await res.arrayBuffer())) as { type: string; payload: unknown }[];
    expect(lines.map((e) => e.type)).toEqual(["preset.updated", "preset.updated", "preset.updated"]);
    expect(lines[0]?.payload).toEqual({ changed: ["name"] });
    const bad = await browser.get(`/console/presets/${p.slug}/events.ndjson?type=nope`);
    expect(bad.status).toBe(400);
  });
});

describe("console call log", () => {
  it("says call logging is off, with a link to the settings", async () => {
    const p = await usedPreset();
    const { status, html } = await page(await signedIn(p.owner), `/console/presets/${p.slug}/calls`);
    expect(status).toBe(200);
    expect(html).toContain('id="calls-off"');
    expect(html).toContain(`href="/console/presets/${p.slug}/settings#auditCalls"`);
    expect(html).toContain("No logged calls match.");
  });

  it("lists logged calls and filters them by outcome and tool", async () => {
    const p = await usedPreset({ auditCalls: true });
    const browser = await signedIn(p.owner);
    await expect
      .poll(async () => rowsOf((await page(browser, `/console/presets/${p.slug}/calls`)).html, "data-outcome"), EVENTUALLY)
      .toEqual(["tool_error", "ok", "ok", "ok"]);
    const all = await page(browser, `/console/presets/${p.slug}/calls`);
    expect(all.html).not.toContain('id="calls-off"');
    const failed = await page(browser, `/console/presets/${p.slug}/calls?outcome=tool_error&tool=&from=&to=`);
    expect(rowsOf(failed.html, "data-outcome")).toEqual(["tool_error"]);
    expect(failed.html).toContain('<option value="tool_error" selected="">');
    const echo = await page(browser, `/console/presets/${p.slug}/calls?tool=alpha__echo&limit=2`);
    expect(rowsOf(echo.html, "data-outcome")).toEqual(["ok", "ok"]);
    expect(echo.html).toContain('rel="next">Older');
    const bad = await page(browser, `/console/presets/${p.slug}/calls?outcome=great`);
    expect(bad.status).toBe(400);
    expect(bad.html).toMatch(/role="alert">outcome: /);
  });
});
