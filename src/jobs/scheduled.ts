/**
 * @module The cron trigger (wrangler.toml `[triggers] crons`): deletes what is past retention, then
 * compacts old minute rollups into hours, within one bounded budget of D1 statements. Its clock
 * is the controller's scheduledTime.
 */
import type { Bindings } from "../shared/bindings";
import { retentionDays, retentionJobs, runBounded, STATEMENTS_PER_RUN } from "./retention";
import { compactionJob } from "./rollup-compaction";

export async function scheduled(controller: ScheduledController, env: Bindings, _ctx: ExecutionContext): Promise<void> {
  const now = controller.scheduledTime;
  const jobs = [...retentionJobs(env.DB, now, retentionDays(env.RETENTION_DAYS)), compactionJob(env.DB, now)];
  const report = await runBounded(jobs, STATEMENTS_PER_RUN);
  console.log("maintenance", JSON.stringify(report));
}
