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
