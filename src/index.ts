/** @module The worker's entry: the Hono app, the preset Durable Object class, the cron and queue handlers. */
import { consumeWebhooks } from "./alerts/deliveries";
import { buildApp } from "./app";
import type { Env } from "./edge/preset-stub";
import { scheduled } from "./jobs/scheduled";

export { PresetGateway } from "./preset/gateway";

const app = buildApp();

export default {
  fetch: app.fetch,
  scheduled,
  queue: (batch, env) => consumeWebhooks(batch, env),
} satisfies ExportedHandler<Env>;
