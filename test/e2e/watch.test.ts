/**
 * The console's Watch pages in headless Chromium against `wrangler dev`: tool calls made with the
 * SDK client show on the dashboard, the window picker switches by mouse and by keyboard, the audit
 * trail filters, and axe-core passes on every Watch page at desktop and phone widths.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { assertAccessible, type E2eUser, gatewayApi, newUser, signIn, VIEWPORTS } from "./e2e-helpers";

const executablePath = inject("chromium");
const base = executablePath ? inject("gatewayUrl") : "";
const screenshots = executablePath ? inject("screenshots") : false;

/** axe-core at both widths; with SCREENSHOTS=1, `shot` names the docs/screenshots/<shot>-<width>.png written. */
async function accessibleAtBothWidths(page: Page, label: string, shot?: string) {
  for (const [name, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    await assertAccessible(page, `${label} (${name})`);
    if (screenshots && shot) await page.screenshot({ path: `docs/screenshots/${shot}-${name}.png`, fullPage: true });
  }
  await page.setViewportSize(VIEWPORTS.desktop);
}

describe.skipIf(!executablePath)("console Watch pages in Chromium", () => {
  let browser: Browser;
  let page: Page;
  let owner: E2eUser;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
    page = await (await browser.newContext({ viewport: VIEWPORTS.desktop })).newPage();
    owner = await newUser("e2w");
    expect((await gatewayApi("POST", "/servers", owner.token, { name: "alpha", url: `${inject("upstreamBase")}/alpha/mcp` })).status).toBe(201);
    expect((await gatewayApi("POST", "/presets", owner.token, { slug: "watched", name: "Watched", visibility: "private", pinning: "off" })).status).toBe(201);
    expect((await gatewayApi("PUT", "/presets/watched/servers/alpha", owner.token, { tools: ["echo", "fail"] })).status).toBe(201);
    const client = new Client({ name: "mcpgate-e2e", version: "1.0.0" });
    const url = new URL(`${base}/mcp/${owner.handle}/watched`);
    await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${owner.token}` } } }));
    for (const text of ["one", "two", "three", "four"]) await client.callTool({ name: "alpha__echo", arguments: { text } });
    await client.callTool({ name: "alpha__fail", arguments: {} });
    await client.close();
    await signIn(page, owner);
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("shows the calls on the dashboard, switches window, and opens the audit trail and call log", async () => {
    await page.goto(`${base}/console/presets/watched`);
    await page.getByRole("link", { name: /^Watch/ }).click();
    await page.waitForURL(`${base}/console/presets/watched/watch`);
    expect(await page.locator("#total-calls").textContent()).toBe("5");
    expect(await page.locator("#total-errors").textContent()).toBe("1 (20%)");
    expect(
      await page
        .getByRole("row", { name: /alpha__echo/ })
        .first()
        .textContent(),
    ).toMatch(/alpha__echo.*4/);
    expect(await page.getByRole("img", { name: /Calls and errors per 15 minutes/ }).count()).toBe(1);
    await accessibleAtBothWidths(page, "watch 24h", "watch");

    const picker = page.getByRole("navigation", { name: "Time window" });
    await picker.getByRole("link", { name: "Last 7 days" }).click();
    await page.waitForURL(/window=7d$/);
    expect(await picker.getByRole("link", { name: "Last 7 days" }).getAttribute("aria-current")).toBe("page");
    expect(await page.locator("#total-calls").textContent()).toBe("5");
    await accessibleAtBothWidths(page, "watch 7d");

    await page.getByRole("navigation", { name: "Watch" }).getByRole("link", { name: "Audit trail" }).click();
    await page.waitForURL(`${base}/console/presets/watched/events`);
    expect(await page.locator("#events tbody tr").count()).toBeGreaterThanOrEqual(2);
    await accessibleAtBothWidths(page, "audit trail", "events");
    await page.getByLabel(/^Type/).fill("server.attached");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/type=server.attached/);
    expect(await page.locator("#events tbody tr").count()).toBe(1);
    expect(await page.getByRole("link", { name: /Export these events as NDJSON/ }).getAttribute("href")).toContain("events.ndjson?type=server.attached");

    await page.getByRole("navigation", { name: "Watch" }).getByRole("link", { name: "Call log" }).click();
    await page.waitForURL(`${base}/console/presets/watched/calls`);
    expect(await page.locator("#calls-off").count()).toBe(1);
    await accessibleAtBothWidths(page, "call log");
  });

  it("reaches the window picker with the keyboard alone", async () => {
    await page.goto(`${base}/console/presets/watched/watch`);
    let focused = "";
    for (let i = 0; i < 30 && focused !== "Last hour"; i++) {
      await page.keyboard.press("Tab");
      focused = (await page.evaluate("document.activeElement && document.activeElement.textContent")) as string;
    }
    expect(focused).toBe("Last hour");
    await page.keyboard.press("Enter");
    await page.waitForURL(/window=1h$/);
    expect(await page.getByRole("link", { name: "Last hour" }).getAttribute("aria-current")).toBe("page");
    expect(await page.locator("#total-calls").textContent()).toBe("5");
  });
});
