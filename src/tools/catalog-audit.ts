/**
 * @module Audit events about what a preset's catalog leaves out: a tool or prompt whose exposed
 * name is not valid (`tool.refused`, `prompt.refused`) and a tool that would take a name another
 * server holds (`tool.shadowed`). The catalog is rebuilt on every change, so each (server, kind,
 * name) is audited at most once per 24 h, remembered in the object's storage (`catalog_audits`,
 * storage.ts) so a restarted object does not repeat itself; and at most 20 events per server and
 * 24 h, so an upstream listing thousands of bad names cannot flood the audit log.
 */
import type { EventType } from "../db/events-repository";
import type { PresetConfig } from "../preset/config";

export const CATALOG_AUDIT_INTERVAL_MS = 24 * 60 * 60_000;
/** Events per server and interval; further refusals are still enforced, just not audited. */
export const CATALOG_AUDITS_PER_SERVER = 20;
/** Names are stored and audited cut to this many characters. */
const NAME_CHARS = 200;

export type CatalogAuditKind = "tool.refused" | "prompt.refused" | "tool.shadowed" | "tool.removed";

export type AuditWriter = (config: PresetConfig, type: EventType, target: string | null, payload: Record<string, unknown>) => void;

export class CatalogAudit {
  readonly #sql: SqlStorage;
  readonly #write: AuditWriter;
  #prunedAt = 0;

  constructor(sql: SqlStorage, write: AuditWriter) {
    this.#sql = sql;
    this.#write = write;
  }

  /** Audits that `server`'s item `name` was left out, unless it already was in the last 24 h. Never throws. */
  note(config: PresetConfig, kind: CatalogAuditKind, server: string, name: string, payload: Record<string, unknown> = {}, now = Date.now()): void {
    try {
      const shown = name.slice(0, NAME_CHARS);
      const since = now - CATALOG_AUDIT_INTERVAL_MS;
      if (now - this.#prunedAt > 60 * 60_000) {
        this.#sql.exec("DELETE FROM catalog_audits WHERE at <= ?", since);
        this.#prunedAt = now;
      }
      const seen = this.#sql.exec<{ at: number }>("SELECT at FROM catalog_audits WHERE server = ? AND kind = ? AND name = ?", server, kind, shown).toArray()[0];
      if (seen && seen.at > since) return;
      const recent = this.#sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM catalog_audits WHERE server = ? AND at > ?", server, since).one().n;
      if (recent >= CATALOG_AUDITS_PER_SERVER) return;
      this.#sql.exec("INSERT OR REPLACE INTO catalog_audits (server, kind, name, at) VALUES (?, ?, ?, ?)", server, kind, shown, now);
      this.#write(config, kind, server, { server, name: shown, ...(name.length > NAME_CHARS ? { nameLength: name.length } : {}), ...payload });
    } catch (e) {
      console.error("catalog audit not written", kind, server, e);
    }
  }
}
