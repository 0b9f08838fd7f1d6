/**
 * The console's management pages in headless Chromium against `wrangler dev`: a server with a
 * secret header, a token created and copied, a member invited whose own MCP client then connects,
 * a fork of another user's public preset, and axe-core on every new page at desktop and phone widths.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { assertAccessible, clipboardText, type E2eUser, gatewayApi, newUser, signIn, VIEWPORTS } from "./e2e-helpers";

const executablePath = inject("chromium");
const base = executablePath ? inject("gatewayUrl") : "";
const SECRET = "e2e-secret-key-never-shown";

/** axe-core at desktop and phone widths on the page as it is now. */
async function accessibleAtBothWidths(page: Page, label: string) {
  for (const [name, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    await assertAccessible(page, `${label} (${name})`);
  }
  await page.setViewportSize(VIEWPORTS.desktop);
}

describe.skipIf(!executablePath)("console management pages in Chromium", () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let owner: E2eUser;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
    context = await browser.newContext({ viewport: VIEWPORTS.desktop });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    page = await context.newPage();
    owner = await newUser("e2m");
    await signIn(page, owner);
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("registers a server with a secret header whose value no page shows", async () => {
    await page.getByRole("navigation").getByRole("link", { name: "Servers" }).click();
    await accessibleAtBothWidths(page, "servers (empty)");
    await page.getByRole("link", { name: "Register a server" }).click();
    await accessibleAtBothWidths(page, "register server");
    await page.locator("#name").fill("alpha");
    await page.getByLabel("URL").fill(`${inject("upstreamBase")}/alpha/mcp`);
    await page.getByLabel("Header 1 name").fill("X-Api-Key");
    await page.getByLabel("Header 1 value").fill(SECRET);
    await page.getByRole("button", { name: "Register server" }).click();
    await page.waitForURL(`${base}/console/servers?done=registered`);
    expect(await page.getByText("X-Api-Key: ********").count()).toBe(1);
    expect(await page.content()).not.toContain(SECRET);
    await accessibleAtBothWidths(page, "servers");
    await page.getByRole("link", { name: "Edit alpha" }).click();
    expect(await page.content()).not.toContain(SECRET);
    expect(await page.getByLabel("Header 1 value").inputValue()).toBe("");
    await accessibleAtBothWidths(page, "edit server");
  });

  it("creates a token shown once and copies it; the list afterwards does not show it", async () => {
    await page.getByRole("navigation").getByRole("link", { name: "Tokens" }).click();
    await accessibleAtBothWidths(page, "tokens");
    await page.getByLabel("Name").fill("e2e laptop");
    await page.getByLabel("Scope").selectOption("mcp");
    await page.getByRole("button", { name: "Create token" }).click();
    const token = (await page.locator("#new-token").textContent()) ?? "";
    expect(token).toMatch(/^mcpg_/);
    await accessibleAtBothWidths(page, "token created");
    await page.getByRole("button", { name: "Copy token" }).click();
    await page.getByText("Copied token to the clipboard.").waitFor();
    expect(await clipboardText(page)).toBe(token);
    await page.getByRole("link", { name: /back to the tokens/ }).click();
    expect(await page.content()).not.toContain(token);
    expect(await page.getByRole("row", { name: /e2e laptop/ }).count()).toBe(1);
  });

  it("invites a member, whose own MCP client then connects to the invite-only preset", async () => {
    const member = await newUser("e2m");
    expect((await gatewayApi("POST", "/presets", owner.token, { slug: "team", name: "Team", visibility: "invite_only" })).status).toBe(201);
    expect((await gatewayApi("PUT", "/presets/team/servers/alpha", owner.token, {})).status).toBe(201);
    const url = new URL(`${base}/mcp/${owner.handle}/team`);
    const refused = new Client({ name: "mcpgate-e2e", version: "1.0.0" });
    await expect(
      refused.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${member.token}` } } })),
    ).rejects.toThrow();

    await page.goto(`${base}/console/presets/team`);
    await page.getByRole("link", { name: /Settings, members/ }).click();
    await accessibleAtBothWidths(page, "preset settings");
    await page.getByLabel("Invite by handle").fill(member.handle);
    await page.getByRole("button", { name: "Invite member" }).click();
    await page.getByText("Member invited.").waitFor();
    expect(await page.getByRole("button", { name: `Remove member ${member.handle}` }).count()).toBe(1);

    const client = new Client({ name: "mcpgate-e2e", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${member.token}` } } }));
    expect((await client.listTools()).tools.map((t) => t.name)).toContain("alpha__echo");
    await client.close();
  });

  it("forks user A's public preset into user B's account through the console", async () => {
    expect((await gatewayApi("POST", "/presets", owner.token, { slug: "shared", name: "Shared", visibility: "public" })).status).toBe(201);
    expect((await gatewayApi("PUT", "/presets/shared/servers/alpha", owner.token, { tools: ["echo"] })).status).toBe(201);
    const b = await newUser("e2m");
    const other = await browser.newContext({ viewport: VIEWPORTS.desktop });
    const bPage = await other.newPage();
    await signIn(bPage, b);
    await bPage.goto(`${base}/console/fork?from=${owner.handle}/shared`);
    await accessibleAtBothWidths(bPage, "fork");
    await bPage.getByRole("button", { name: "Fork into my account" }).click();
    await bPage.waitForURL(`${base}/console/presets/shared?created=1`);
    const forked = await gatewayApi("GET", "/presets/shared", b.token);
    expect(forked.status).toBe(200);
    expect(forked.body.forkedFrom).toBe(`${owner.handle}/shared`);
    await bPage.goto(`${base}/console/import`);
    await accessibleAtBothWidths(bPage, "import");
    await other.close();
  });
});
