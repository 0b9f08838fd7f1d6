/**
 * @module The alert detectors of a preset's Durable Object: `error_rate.high` from the outcome of
 * every recorded call, `rate_limit.surge` from every rate-limit refusal, `upstream.unreachable`
 * from what each upstream request ended with. The pure cores are usage/threshold-watches.ts and
 * upstream/reachability.ts; this wires them to the preset's settings (PresetConfig.alerts) and
 * writes what they raise through PresetAudit.alert (an audit event, and an alert for webhooks).
 * O(1) per call or refusal; never throws into the request that fed it.
 */
import type { ErrorRateAlertSetting, RateLimitSurgeAlertSetting } from "../db/schema";
import type { UpstreamFailure } from "../upstream/client";
import { ReachabilityWatch, reachOf } from "../upstream/reachability";
import type { CallOutcome } from "../usage/call-record";
import { ErrorRateWatch, SurgeWatch } from "../usage/threshold-watches";
import type { PresetAudit } from "./audit";
import type { PresetConfig, PresetServer } from "./config";
import type { KvSlice } from "./storage";

const sameErrorRate = (a: ErrorRateAlertSetting, b: ErrorRateAlertSetting) =>
  a.threshold === b.threshold && a.windowMinutes === b.windowMinutes && a.minCalls === b.minCalls;
const sameSurge = (a: RateLimitSurgeAlertSetting, b: RateLimitSurgeAlertSetting) => a.threshold === b.threshold && a.windowMinutes === b.windowMinutes;

export class AlertDetectors {
  readonly #audit: PresetAudit;
  readonly #config: () => PresetConfig | null | undefined;
  /** Upstreams announced unreachable, kept across restarts so a restart does not announce them again. */
  readonly #downStore: KvSlice;
  readonly #reach: ReachabilityWatch;
  #errorRate: ErrorRateWatch | null = null;
  #surge: SurgeWatch | null = null;
  /** The configuration the watches were last checked against: another preset id starts them afresh. */
  #seen: PresetConfig | null = null;

  /** `config`: the configuration the object holds now (upstream requests also happen outside calls). */
  constructor(audit: PresetAudit, config: () => PresetConfig | null | undefined, downStore: KvSlice) {
    this.#audit = audit;
    this.#config = config;
    this.#downStore = downStore;
    this.#reach = new ReachabilityWatch(downStore.stored.keys());
  }

  /** A call was recorded with `outcome` (usage/call-record.ts); `now` is when it ended. */
  callRecorded(config: PresetConfig, call: { outcome: CallOutcome; upstream: string | null; tool: string }, now: number): void {
    try {
      this.#sync(config);
      const setting = config.alerts.errorRate;
      if (!setting) return;
      if (!this.#errorRate || !sameErrorRate(this.#errorRate.setting, setting)) this.#errorRate = new ErrorRateWatch(setting);
      const raised = this.#errorRate.record(now, call.outcome, call.upstream, call.tool);
      if (raised) this.#audit.alert(config, "error_rate.high", null, { ...raised });
    } catch (e) {
      console.error("error rate not watched", e);
    }
  }

  /** A rate limit refused a request of `caller` (its rate-limit key: `user:<id>` or `ip:<address>`). */
  refused(config: PresetConfig, caller: string, now: number): void {
    try {
      this.#sync(config);
      const setting = config.alerts.rateLimitSurge;
      if (!setting) return;
      if (!this.#surge || !sameSurge(this.#surge.setting, setting)) this.#surge = new SurgeWatch(setting);
      const raised = this.#surge.refused(now, caller);
      if (raised) this.#audit.alert(config, "rate_limit.surge", null, { ...raised });
    } catch (e) {
      console.error("rate-limit refusals not watched", e);
    }
  }

  /** A request to `server` ended: `failure` null when the upstream answered (a result or a JSON-RPC error). */
  upstreamOutcome(server: PresetServer, failure: UpstreamFailure | null): void {
    try {
      const config = this.#config();
      if (!config) return;
      this.#sync(config);
      const setting = config.alerts.upstreamUnreachable;
      const seen = this.#reach.observe(server.id, reachOf(failure), setting ? setting.failures : Number.POSITIVE_INFINITY);
      if (seen.recovered) this.#forget(server.id);
      if (seen.announce === undefined || !failure) return;
      const at = Date.now();
      void this.#downStore.put(server.id, at).catch((e: unknown) => console.error("unreachable upstream not persisted", e));
      this.#audit.alert(config, "upstream.unreachable", server.name, {
        serverId: server.id,
        server: server.name,
        failures: seen.announce,
        reason: failure.kind,
        ...(failure.kind === "http_error" && failure.detail !== undefined ? { status: failure.detail } : {}),
        message: failure.message,
      });
    } catch (e) {
      console.error("upstream reachability not watched", e);
    }
  }

  /** A new configuration: upstreams that left the preset are forgotten; another preset (same name, recreated) starts afresh. */
  #sync(config: PresetConfig): void {
    if (config === this.#seen) return;
    if (this.#seen && this.#seen.id !== config.id) {
      this.#errorRate = null;
      this.#surge = null;
    }
    this.#seen = config;
    for (const id of this.#reach.retain(new Set(config.servers.map((s) => s.id)))) this.#forget(id);
  }

  #forget(serverId: string): void {
    void this.#downStore.delete(serverId).catch((e: unknown) => console.error("unreachable upstream not forgotten", e));
  }
}
