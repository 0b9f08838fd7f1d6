/**
 * @module Refuses a change that would make two tools of a preset share an exposed name (plain naming or
 * overrides), naming the clash. The upstreams' live tool lists are fetched through the gateway's
 * client; an upstream that cannot be listed right now is left out of the check (its tools join
 * the catalog later, where a contested name stays with the server it is bound to and the newcomer is
 * left out and audited as `tool.shadowed`: see tools/catalog.ts).
 */
import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { getDb } from "../db/client";
import { presetServers, servers } from "../db/schema";
import type { AppEnv } from "../edge/app-env";
import { conflict } from "../shared/errors";
import { type CatalogSource, findCollisions, type ItemOverride, type ToolNaming } from "../tools/catalog";
import { openHeaders } from "../upstream/header-secrets";
import { fetchUpstreamTools } from "../upstream/one-shot";

export interface AttachmentPlan {
  serverId: string;
  enabled: boolean;
  tools: string[] | null;
  overrides: Record<string, ItemOverride> | null;
}

export async function assertNoNameClash(c: Context<AppEnv>, presetId: string, naming: ToolNaming, change?: AttachmentPlan): Promise<void> {
  const db = getDb(c.env.DB);
  const rows = await db
    .select({ server: servers, enabled: presetServers.enabled, tools: presetServers.tools, overrides: presetServers.overrides })
    .from(presetServers)
    .innerJoin(servers, eq(servers.id, presetServers.serverId))
    .where(eq(presetServers.presetId, presetId))
    .orderBy(servers.name);
  const plans = rows.map((r) => ({ server: r.server, enabled: r.enabled, tools: r.tools ?? null, overrides: r.overrides ?? null }));
  if (change) {
    const at = plans.findIndex((p) => p.server.id === change.serverId);
    const server = at >= 0 ? plans[at]!.server : await db.select().from(servers).where(eq(servers.id, change.serverId)).get();
    if (!server) return;
    const plan = { server, enabled: change.enabled, tools: change.tools, overrides: change.overrides };
    if (at >= 0) plans[at] = plan;
    else plans.push(plan);
  }
  await assertPlansDoNotClash(c, naming, plans);
}

/** The server fields the check needs to list an upstream's tools (a server about to be created has no headers yet). */
export type CheckedServer = Pick<typeof servers.$inferSelect, "id" | "name" | "url" | "headersEnc" | "timeoutMs">;

/**
 * Refuses (409) a set of attachments, existing or planned, in which two exposed tools would share
 * a name. Upstreams that cannot be listed now are left out.
 */
export async function assertPlansDoNotClash(
  c: Context<AppEnv>,
  naming: ToolNaming,
  plans: { server: CheckedServer; enabled: boolean; tools: string[] | null; overrides: Record<string, ItemOverride> | null }[],
): Promise<void> {
  const active = plans.filter((p) => p.enabled);
  const needsCheck = naming === "plain" || active.some((p) => p.overrides && Object.values(p.overrides).some((o) => o.name));
  if (!needsCheck || active.length === 0) return;
  const allowInsecure = c.env.ALLOW_INSECURE_UPSTREAMS === "true";
  const sources: CatalogSource[] = await Promise.all(
    active.map(async (p) => {
      const tools = await fetchUpstreamTools(
        { id: p.server.id, name: p.server.name, url: p.server.url, headers: await openHeaders(c.env, p.server), timeoutMs: p.server.timeoutMs },
        { allowInsecure },
      ).catch(() => []);
      return { server: p.server.name, selection: p.tools, tools, naming, overrides: p.overrides };
    }),
  );
  const clashes = findCollisions(sources);
  if (clashes.length > 0) {
    const list = clashes
      .slice(0, 5)
      .map((x) => `'${x.name}' (${x.servers.join(", ")})`)
      .join("; ");
    throw Object.assign(conflict(`Tool name clash: ${list}. Use prefixed naming, narrow the tool selection, or rename with overrides.`), {
      clashes,
    });
  }
}

/** The clashes a 409 from assertPlansDoNotClash names (all of them, not only the five of its message); [] for any other error. */
export function clashesOf(e: unknown): { name: string; servers: string[] }[] {
  const clashes = (e as { clashes?: unknown } | null)?.clashes;
  return Array.isArray(clashes) ? (clashes as { name: string; servers: string[] }[]) : [];
}
