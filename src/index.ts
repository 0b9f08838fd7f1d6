import { buildApp } from "./app";

export { PresetGateway } from "./preset-gateway";

export default buildApp();
