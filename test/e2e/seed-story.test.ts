/**
 * The seed story of the console, in one flow in headless Chromium against `wrangler dev`: user A
 * signs in, registers the alpha fixture upstream, creates a public preset, attaches the server and
 * picks tools with the search box and bulk selection, copies the MCP URL; a real SDK client lists
 * exactly those tools and calls some; A makes the preset invite-only and invites B, whose client
 * connects while a stranger's is refused; public again, B forks it from its public page; A's Watch
 * dashboard counts the calls by tool. Then the import form takes an uploaded .json file.
 * Only users and their tokens are made through the API (there is no sign-up page).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { assertAccessible, clipboardText, type E2eUser, gatewayApi, newUser, signIn, VIEWPORTS } from "./e2e-helpers";

const executablePath = inject("chromium");
const base = executablePath ? inject("gatewayUrl") : "";

async function accessibleAtBothWidths(page: Page, label: string) {
  for (const [name, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    await assertAccessible(page, `${label} (${name})`);
  }
  await page.setViewportSize(VIEWPORTS.desktop);
}

/** An SDK client on `url` with `token`, connected (initialize done). */
async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: "mcpgate-seed-story", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

describe.skipIf(!executablePath)("the seed story in Chromium", () => {
  let browser: Browser;
  let contextA: BrowserContext;
  let a: Page;
  let userA: E2eUser;
  let userB: E2eUser;
  let userC: E2eUser;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
    contextA = await browser.newContext({ viewport: VIEWPORTS.desktop });
    await contextA.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    a = await contextA.newPage();
    [userA, userB, userC] = await Promise.all([newUser("seed-a"), newUser("seed-b"), newUser("seed-c")]);
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("A builds and shares a preset; clients use it; B forks it; A watches the calls", async () => {
    // A signs in with a token and registers the demo upstream on the Servers page.
    await signIn(a, userA);
    await a.getByRole("navigation").getByRole("link", { name: "Servers" }).click();
    await a.getByRole("link", { name: "Register a server" }).click();
    await a.locator("#name").fill("alpha");
    await a.getByLabel("URL").fill(`${inject("upstreamBase")}/alpha/mcp`);
    await a.getByRole("button", { name: "Register server" }).click();
    await a.waitForURL(`${base}/console/servers?done=registered`);

    // A creates a public preset in the form.
    await a.getByRole("navigation").getByRole("link", { name: "New preset" }).click();
    await a.getByLabel("Slug").fill("seed");
    await a.getByLabel("Name").fill("Seed story");
    await a.getByLabel("Visibility").selectOption("public");
    await a.getByRole("button", { name: "Create preset" }).click();
    await a.waitForURL(`${base}/console/presets/seed?created=1`);

    // Attach, clear the selection, then search and bulk-select the filtered rows twice.
    await a.getByLabel("Server to attach").selectOption("alpha");
    await a.getByRole("button", { name: "Attach" }).click();
    await a.waitForURL(`${base}/console/presets/seed/servers/alpha`);
    await a.getByRole("button", { name: "None", exact: true }).click();
    const search = a.getByLabel("Search tools");
    for (const term of ["echo", "add"]) {
      await search.fill("");
      await search.pressSequentially(term);
      expect(await a.locator("li.tool:visible").count(), term).toBe(1);
      await a.getByRole("button", { name: "Select all" }).click();
    }
    expect(await a.locator("li.tool input[type=checkbox]:checked").count()).toBe(2);
    await a.getByRole("button", { name: "Save" }).click();
    await a.waitForURL(`${base}/console/presets/seed/servers/alpha?saved=1`);

    // Copy the preset URL with the copy button and read it back from the clipboard.
    await a.goto(`${base}/console/presets/seed`);
    await a.getByRole("button", { name: "Copy MCP URL" }).click();
    await a.getByText("Copied MCP URL to the clipboard.").waitFor();
    const url = await clipboardText(a);
    expect(url).toBe(`${base}/mcp/${userA.handle}/seed`);

    // A's SDK client lists exactly the chosen tools and calls some.
    const chosen = ["alpha__add", "alpha__echo"];
    const clientA = await connect(url, userA.token);
    expect((await clientA.listTools()).tools.map((t) => t.name).sort()).toEqual(chosen);
    for (const text of ["one", "two"]) expect((await clientA.callTool({ name: "alpha__echo", arguments: { text } })).content).toEqual([{ type: "text", text }]);
    expect((await clientA.callTool({ name: "alpha__add", arguments: { a: 2, b: 3 } })).structuredContent).toEqual({ sum: 5 });
    await clientA.close();

    // Invite-only in the settings, B invited on the members form: B connects, stranger C is refused.
    await a.getByRole("link", { name: /Settings, members/ }).click();
    await a.getByLabel("Visibility").selectOption("invite_only");
    await a.getByRole("button", { name: "Save settings" }).click();
    await a.waitForURL(`${base}/console/presets/seed/settings?done=saved`);
    await a.getByLabel("Invite by handle").fill(userB.handle);
    await a.getByRole("button", { name: "Invite member" }).click();
    await a.waitForURL(`${base}/console/presets/seed/settings?done=invited`);
    const clientB = await connect(url, userB.token);
    expect((await clientB.listTools()).tools.map((t) => t.name).sort()).toEqual(chosen);
    await clientB.callTool({ name: "alpha__echo", arguments: { text: "from b" } });
    await clientB.close();
    await expect(connect(url, userC.token)).rejects.toThrow();

    // Public again; B, in a browser of its own, forks it from the public page.
    await a.getByLabel("Visibility").selectOption("public");
    await a.getByRole("button", { name: "Save settings" }).click();
    await a.waitForURL(`${base}/console/presets/seed/settings?done=saved`);
    await a.goto(`${base}/console/presets/seed`);
    expect(await a.getByRole("link", { name: "Public page" }).getAttribute("href")).toBe(`/console/p/${userA.handle}/seed`);

    const contextB = await browser.newContext({ viewport: VIEWPORTS.desktop });
    const b = await contextB.newPage();
    await signIn(b, userB);
    await b.goto(`${base}/console/p/${userA.handle}/seed`);
    expect(await b.getByRole("heading", { level: 1 }).textContent()).toBe("Seed story");
    expect(await b.getByRole("list", { name: "Tools of alpha" }).getByRole("listitem").allTextContents()).toEqual(chosen);
    expect(await b.content()).not.toContain(inject("upstreamBase"));
    await accessibleAtBothWidths(b, "public preset page");
    await b.getByRole("link", { name: "Fork into my account" }).click();
    await b.waitForURL(`${base}/console/fork?from=${encodeURIComponent(`${userA.handle}/seed`)}`);
    await b.getByRole("button", { name: "Fork into my account" }).click();
    await b.waitForURL(`${base}/console/presets/seed?created=1`);
    await b.getByRole("navigation").getByRole("link", { name: "Presets" }).click();
    await b.waitForURL(`${base}/console`);
    expect(await b.getByRole("list", { name: "Presets" }).getByRole("link", { name: "Seed story" }).count()).toBe(1);
    await contextB.close();

    // A's Watch dashboard shows the four calls just made, by tool.
    await a.getByRole("link", { name: /^Watch/ }).click();
    await a.waitForURL(`${base}/console/presets/seed/watch`);
    expect(await a.locator("#total-calls").textContent()).toBe("4");
    const callsOf = async (tool: string) =>
      (
        await a
          .getByRole("row", { name: new RegExp(`^${tool} `) })
          .first()
          .locator("td")
          .allTextContents()
      ).slice(0, 2);
    expect(await callsOf("alpha__echo")).toEqual(["3", "0"]);
    expect(await callsOf("alpha__add")).toEqual(["1", "0"]);
  }, 60_000);

  it("imports a preset from a .json file chosen in the browser", async () => {
    const exported = await a.request.get(`${base}/console/presets/seed/export`);
    expect(exported.status()).toBe(200);
    await a.getByRole("navigation").getByRole("link", { name: "Import" }).click();
    await a.waitForURL(`${base}/console/import`);
    await accessibleAtBothWidths(a, "import");
    await a.getByLabel("Document file").setInputFiles({ name: "seed.mcpgate.json", mimeType: "application/json", buffer: await exported.body() });
    await a.locator("#slug").fill("seed-imported");
    await a.getByRole("button", { name: "Import preset" }).click();
    await a.waitForURL(`${base}/console/presets/seed-imported?created=1`);
    const view = await gatewayApi("GET", "/presets/seed-imported", userA.token);
    expect(view.body.servers.map((s: { name: string; tools: string[] }) => [s.name, [...s.tools].sort()])).toEqual([["alpha", ["add", "echo"]]]);

    // The weight and time of the new pages, for the record.
    for (const path of [`/console/p/${userA.handle}/seed`, "/console/import"]) {
      const started = Date.now();
      const res = await a.request.get(`${base}${path}`);
      const ms = Date.now() - started;
      const body = await res.body();
      expect(res.status()).toBe(200);
      const gzipped = (await new Response(new Response(body).body!.pipeThrough(new CompressionStream("gzip"))).arrayBuffer()).byteLength;
      console.log(`${path}: ${body.length} bytes of HTML (${gzipped} gzipped), ${ms} ms (wrangler dev)`);
      expect(body.length).toBeLessThan(30_000);
    }
  });
});
