import { buildApp } from "./app";
import type { Env } from "./env";
import { scheduled } from "./scheduled";

export { PresetGateway } from "./preset-gateway";

const app = buildApp();

export default { fetch: app.fetch, scheduled } satisfies ExportedHandler<Env>;
