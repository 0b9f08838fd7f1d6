/** Types for `gateway.mjs`. */
export function findChromium(): string | null;
export function wantScreenshots(): boolean;
export interface E2eGateway {
  url: string;
  configDir: string;
  persistDir: string;
  stop(): Promise<void>;
}
export function startGateway(o: { adminToken: string }): Promise<E2eGateway>;
export function executeSql(g: { configDir: string; persistDir: string }, sql: string): Promise<void>;
export function axeSource(): string;
