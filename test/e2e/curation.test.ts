/**
 * Curation in real headless Chromium against `wrangler dev` (test/e2e/global-setup.ts): attach the
 * 250-tool `many` fixture upstream from the preset page, filter with the search box, bulk-select on
 * the filtered rows, rename with a live exposed name and duplicate flag, save, and a real MCP
 * client on the preset URL lists exactly the chosen tools; axe-core at desktop and phone widths.
 * SCREENSHOTS=1 also writes docs/screenshots/curation-{desktop,phone}.png.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { assertAccessible, type E2eUser, gatewayApi, newUser, signIn, VIEWPORTS } from "./e2e-helpers";

const executablePath = inject("chromium");
const base = executablePath ? inject("gatewayUrl") : "";
const screenshots = executablePath ? inject("screenshots") : false;

describe.skipIf(!executablePath)("console curation in Chromium", () => {
  let browser: Browser;
  let page: Page;
  let user: E2eUser;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
    page = await (await browser.newContext({ viewport: VIEWPORTS.desktop })).newPage();
    user = await newUser("cur");
    expect((await gatewayApi("POST", "/servers", user.token, { name: "many", url: `${inject("upstreamBase")}/many/mcp` })).status).toBe(201);
    expect((await gatewayApi("POST", "/presets", user.token, { slug: "big", name: "Big", visibility: "private" })).status).toBe(201);
    await signIn(page, user);
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("attaches a server, filters, bulk-selects the filtered rows, renames, saves; an MCP client sees exactly that", async () => {
    await page.goto(`${base}/console/presets/big`);
    await page.getByLabel("Server to attach").selectOption("many");
    await page.getByRole("button", { name: "Attach" }).click();
    await page.waitForURL(`${base}/console/presets/big/servers/many`);
    const rows = page.locator("li.tool");
    const shown = page.locator("li.tool:visible");
    expect(await rows.count()).toBe(250);
    expect(await page.getByRole("checkbox", { name: "All tools, including future ones" }).isChecked()).toBe(true);

    // "None" on the unfiltered list clears everything (and the "all tools" box).
    await page.getByRole("button", { name: "None", exact: true }).click();
    expect(await page.getByRole("checkbox", { name: "All tools, including future ones" }).isChecked()).toBe(false);
    expect(await page.locator("li.tool input[type=checkbox]:checked").count()).toBe(0);

    // Typing filters as you type; "Select all" acts on the 10 rows shown only.
    const search = page.getByLabel("Search tools");
    await search.pressSequentially("tool_01");
    expect(await shown.count()).toBe(10);
    await search.press("Enter"); // filters, does not submit
    expect(page.url()).toBe(`${base}/console/presets/big/servers/many`);
    await page.getByRole("button", { name: "Select all" }).click();
    expect(await page.locator("li.tool input[type=checkbox]:checked").count()).toBe(10);
    expect(await page.locator("#tool-count").textContent()).toBe("10 of 250 tools shown, 10 selected.");
    await page.getByRole("button", { name: "Invert" }).click();
    expect(await page.locator("li.tool input[type=checkbox]:checked").count()).toBe(0);
    await page.getByRole("button", { name: "Invert" }).click();

    // The exposed name follows the rename field; a duplicate is flagged live.
    const row15 = page.locator('li.tool[data-name="tool_015"]');
    expect(await row15.locator("code.exposed").textContent()).toBe("many__tool_015");
    await page.getByLabel("Rename tool_015").fill("fifteen");
    expect(await row15.locator("code.exposed").textContent()).toBe("fifteen");
    await page.getByLabel("Rename tool_016").fill("fifteen");
    await expect.poll(() => row15.locator(".dup").isVisible()).toBe(true);
    expect(await page.locator("#tool-count").textContent()).toContain("2 with a duplicate exposed name");
    await page.getByLabel("Rename tool_016").fill("");
    expect(await row15.locator(".dup").isVisible()).toBe(false);

    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForURL(`${base}/console/presets/big/servers/many?saved=1`);
    expect(await page.getByText("Saved.").count()).toBe(1);

    const view = await gatewayApi("GET", "/presets/big", user.token);
    const chosen = Array.from({ length: 10 }, (_, i) => `tool_01${i}`);
    expect(view.body.servers[0].tools).toEqual(chosen);
    expect(view.body.servers[0].overrides).toEqual({ tool_015: { name: "fifteen" } });

    const client = new Client({ name: "mcpgate-e2e", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp/${user.handle}/big`), { requestInit: { headers: { authorization: `Bearer ${user.token}` } } }),
    );
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(chosen.map((n) => (n === "tool_015" ? "fifteen" : `many__${n}`)).sort());
    await client.close();
  });

  it("is axe-clean at desktop and phone widths, and reports its weight for 250 tools", async () => {
    for (const [name, viewport] of Object.entries(VIEWPORTS)) {
      await page.setViewportSize(viewport);
      await page.goto(`${base}/console/presets/big/servers/many`);
      await assertAccessible(page, `curation (${name})`);
      // The first screen only: the whole list of 250 tools would make a very tall image.
      if (screenshots) await page.screenshot({ path: `docs/screenshots/curation-${name}.png` });
      await page.goto(`${base}/console/presets/big`);
      await assertAccessible(page, `preset page with servers (${name})`);
      await page.goto(`${base}/console/presets/big/servers/many/detach`);
      await assertAccessible(page, `detach confirmation (${name})`);
    }
    await page.setViewportSize(VIEWPORTS.desktop);
    const started = Date.now();
    const res = await page.request.get(`${base}/console/presets/big/servers/many`);
    const ms = Date.now() - started;
    const body = await res.body();
    expect(res.status()).toBe(200);
    const gzipped = (await new Response(new Response(body).body!.pipeThrough(new CompressionStream("gzip"))).arrayBuffer()).byteLength;
    console.log(`curation page for 250 tools: ${body.length} bytes of HTML (${gzipped} gzipped), ${ms} ms (wrangler dev, upstream listed live)`);
    expect(body.length).toBeLessThan(300_000);
  });
});
