/** @module The worker's entry: the Hono app, the preset Durable Object class, and the cron handler. */
import { buildApp } from "./app";
import type { Env } from "./edge/preset-stub";
import { scheduled } from "./jobs/scheduled";

export { PresetGateway } from "./preset/gateway";

const app = buildApp();

export default { fetch: app.fetch, scheduled } satisfies ExportedHandler<Env>;
