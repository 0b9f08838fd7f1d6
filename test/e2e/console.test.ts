/**
 * The web console in real headless Chromium against `wrangler dev` (test/e2e/global-setup.ts):
 * sign-in, presets, the create form, the preset page and its copy button, a real MCP client on the
 * URL it shows, CSRF refusals, session expiry and sign-out, keyboard use, and axe-core at desktop
 * and phone widths. SCREENSHOTS=1 also writes docs/screenshots/*.png.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { assertAccessible, clipboardText, type E2eUser, expireSessions, gatewayApi, newUser, SESSION_COOKIE, signIn, VIEWPORTS } from "./e2e-helpers";

const executablePath = inject("chromium");
const base = executablePath ? inject("gatewayUrl") : "";
const screenshots = executablePath ? inject("screenshots") : false;

describe.skipIf(!executablePath)("web console in Chromium", () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let user: E2eUser;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
    context = await browser.newContext({ viewport: VIEWPORTS.desktop });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    page = await context.newPage();
    user = await newUser("e2e");
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("signs in with an API token, creates a preset through the form, copies its URL, and an MCP client connects to it", async () => {
    const server = await gatewayApi("POST", "/servers", user.token, { name: "alpha", url: `${inject("upstreamBase")}/alpha/mcp` });
    expect(server.status).toBe(201);
    await page.goto(`${base}/`);
    expect(page.url()).toBe(`${base}/console/signin`);
    await signIn(page, user);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Your presets");
    expect(await page.getByText("You have no presets yet.").count()).toBe(1);

    await page.getByRole("navigation").getByRole("link", { name: "New preset" }).click();
    await page.getByLabel("Slug").fill("Bad Slug!");
    await page.getByRole("button", { name: "Create preset" }).click();
    expect(await page.locator("#slug-error").textContent()).toBeTruthy();
    expect(await page.getByLabel("Slug").getAttribute("aria-invalid")).toBe("true");

    await page.getByLabel("Slug").fill("tools");
    await page.getByLabel("Name").fill("My tools");
    await page.getByLabel("Visibility").selectOption("private");
    await page.getByRole("button", { name: "Create preset" }).click();
    await page.waitForURL(`${base}/console/presets/tools?created=1`);
    const url = `${base}/mcp/${user.handle}/tools`;
    expect(await page.locator("#mcp-url").textContent()).toBe(url);

    const copy = page.getByRole("button", { name: "Copy MCP URL" });
    expect(await copy.getAttribute("data-copy")).toBe(url);
    await copy.click();
    await page.getByText("Copied MCP URL to the clipboard.").waitFor();
    expect(await clipboardText(page)).toBe(url);
    expect(await page.locator("#snippet-claude-code").count()).toBe(1);
    expect(await page.locator("pre").first().textContent()).toBe(`claude mcp add --transport http tools ${url}`);

    // The URL the page shows is a working MCP endpoint.
    expect((await gatewayApi("PUT", "/presets/tools/servers/alpha", user.token, {})).status).toBe(201);
    const client = new Client({ name: "mcpgate-e2e", version: "1.0.0" });
    const copied = await clipboardText(page);
    await client.connect(new StreamableHTTPClientTransport(new URL(copied), { requestInit: { headers: { authorization: `Bearer ${user.token}` } } }));
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain("alpha__echo");
    await client.close();

    await page.goto(`${base}/console`);
    expect(await page.getByRole("link", { name: "My tools" }).count()).toBe(1);
    expect(await page.locator(".badge.ok, .badge.degraded, .badge.open").count()).toBeGreaterThan(0);
    expect(await page.locator("svg.spark").getAttribute("aria-label")).toMatch(/calls, \d+ errors in the last 24 hours/);
  });

  it("refuses a POST without the CSRF token or from a foreign Origin with 403, and creates nothing", async () => {
    const cookies = await context.cookies(base);
    const session = cookies.find((c) => c.name === SESSION_COOKIE);
    expect(session).toBeDefined();
    const csrf = await (async () => {
      await page.goto(`${base}/console/presets/new`);
      return page.locator('input[name="csrf"]').first().inputValue();
    })();
    const post = (fields: Record<string, string>, origin: string) =>
      fetch(`${base}/console/presets`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie: `${SESSION_COOKIE}=${session!.value}`, origin, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(fields),
      });
    expect((await post({ slug: "nocsrf", name: "x", visibility: "public" }, base)).status).toBe(403);
    expect((await post({ csrf, slug: "foreign", name: "x", visibility: "public" }, "https://evil.example")).status).toBe(403);
    // The same request from the browser's own page works: the refusals above were about CSRF, not the form.
    expect((await post({ csrf, slug: "fine", name: "x", visibility: "public" }, base)).status).toBe(303);
    const list = await gatewayApi("GET", "/presets", user.token);
    expect(list.body.presets.map((p: { slug: string }) => p.slug).sort()).toEqual(["fine", "tools"]);
  });

  it("meets axe-core (no serious or critical violations) on sign-in, presets and preset page at desktop and phone widths", async () => {
    const other = await browser.newContext();
    const fresh = await other.newPage();
    for (const [name, viewport] of Object.entries(VIEWPORTS)) {
      await fresh.setViewportSize(viewport);
      await page.setViewportSize(viewport);
      await fresh.goto(`${base}/console/signin`);
      await assertAccessible(fresh, `sign-in (${name})`);
      if (screenshots) await fresh.screenshot({ path: `docs/screenshots/signin-${name}.png`, fullPage: true });
      await page.goto(`${base}/console`);
      await assertAccessible(page, `presets (${name})`);
      if (screenshots) await page.screenshot({ path: `docs/screenshots/presets-${name}.png`, fullPage: true });
      await page.goto(`${base}/console/presets/tools`);
      await assertAccessible(page, `preset page (${name})`);
      if (screenshots) await page.screenshot({ path: `docs/screenshots/preset-${name}.png`, fullPage: true });
      await page.goto(`${base}/console/presets/new`);
      await assertAccessible(page, `new preset (${name})`);
    }
    await page.setViewportSize(VIEWPORTS.desktop);
    await other.close();
  });

  it("lets the sign-in form be completed with the keyboard alone", async () => {
    const keyboardUser = await newUser("e2e");
    const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop });
    const p = await ctx.newPage();
    await p.goto(`${base}/console/signin`);
    await p.keyboard.press("Tab");
    expect(await p.evaluate("document.activeElement && document.activeElement.textContent")).toBe("Skip to content");
    await p.keyboard.press("Tab");
    await p.keyboard.press("Tab");
    expect(await p.evaluate("document.activeElement && document.activeElement.id")).toBe("token");
    await p.keyboard.type(keyboardUser.token);
    await p.keyboard.press("Enter");
    await p.waitForURL(`${base}/console`);
    expect(await p.getByRole("heading", { level: 1 }).textContent()).toBe("Your presets");
    await ctx.close();
  });

  it("sends an expired session to the sign-in page, and sign-out ends the session for good", async () => {
    const u = await newUser("e2e");
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await signIn(p, u);
    await expireSessions(u.id);
    await p.goto(`${base}/console`);
    expect(p.url()).toBe(`${base}/console/signin`);

    await signIn(p, u);
    const cookie = (await ctx.cookies(base)).find((c) => c.name === SESSION_COOKIE)!;
    await p.getByRole("button", { name: /Sign out/ }).click();
    await p.waitForURL(`${base}/console/signin`);
    expect((await ctx.cookies(base)).some((c) => c.name === SESSION_COOKIE)).toBe(false);
    const replay = await fetch(`${base}/console`, { redirect: "manual", headers: { cookie: `${SESSION_COOKIE}=${cookie.value}` } });
    expect(replay.status).toBe(303);
    expect(replay.headers.get("location")).toBe("/console/signin");
    await ctx.close();
  });
});
