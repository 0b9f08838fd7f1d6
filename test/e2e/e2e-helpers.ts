import type { Page } from "playwright-core";
import { expect, inject } from "vitest";
import { axeSource, executeSql } from "./gateway.mjs";

export const SESSION_COOKIE = "__Host-mcpgate_console";
export const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

const AXE_SOURCE = axeSource();

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core in the page and fails on serious or critical violations. It is evaluated through
 * the DevTools protocol, which the page's CSP does not govern (the page itself runs no inline code).
 */
export async function assertAccessible(page: Page, label: string): Promise<void> {
  await page.evaluate(AXE_SOURCE);
  const violations = (await page.evaluate(`axe.run(document, { resultTypes: ["violations"] }).then((r) =>
    r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")) })))`)) as AxeViolation[];
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(
    serious.map((v) => `${label}: ${v.id} (${v.impact}) ${v.help} at ${v.targets.join(", ")}`),
    label,
  ).toEqual([]);
}

/** Moves every console session of a user past its absolute expiry, in the local D1 of `wrangler dev`. */
export async function expireSessions(userId: string): Promise<void> {
  if (!/^[a-z0-9_]+$/.test(userId)) throw new Error(`unexpected user id ${userId}`);
  await executeSql(inject("wrangler"), `UPDATE console_sessions SET expires_at = 1 WHERE user_id = '${userId}'`);
}

/** What the page's clipboard holds (the context was granted clipboard-read). */
export async function clipboardText(page: Page): Promise<string> {
  return (await page.evaluate("navigator.clipboard.readText()")) as string;
}

/** A user made through the admin API, with the API token it came with. */
export interface E2eUser {
  id: string;
  handle: string;
  token: string;
}

/** The gateway under test's base URL (empty when the project is skipped for want of Chromium). */
const gatewayBase = () => (inject("chromium") ? inject("gatewayUrl") : "");

/** Calls the management API of the gateway under test with a bearer token. */
export async function gatewayApi(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${gatewayBase()}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

let users = 0;
/** A new user with a handle no other test uses (`<prefix>-<time>-<n>`). */
export async function newUser(prefix: string): Promise<E2eUser> {
  const handle = `${prefix}-${Date.now().toString(36)}-${++users}`;
  const res = await gatewayApi("POST", "/users", inject("adminToken"), { handle });
  expect(res.status).toBe(201);
  return { id: res.body.user.id, handle, token: res.body.token };
}

/** Signs the page in with the user's API token and waits for the presets list. */
export async function signIn(page: Page, user: E2eUser): Promise<void> {
  const base = gatewayBase();
  await page.goto(`${base}/console/signin`);
  await page.getByLabel("API token").fill(user.token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${base}/console`);
}
