/** One attached server as the tests compare it: the selection itself, without live extras such as health. */
export interface Selection {
  name: string;
  serverId: string;
  enabled: boolean;
  tools: string[] | null;
}

/** Projects a preset's `servers` array onto the selection fields, so added fields do not break equality. */
export function selectionsOf(servers: Selection[]): Selection[] {
  return servers.map(({ name, serverId, enabled, tools }) => ({ name, serverId, enabled, tools }));
}
