import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type ApiResult, addPreset, addServer, api, createUser, type TestUser, unique } from "../helpers";
import { selectionsOf } from "./selections";

/**
 * Duplicate writes sent at the same moment: each route checks, then inserts, so the database's
 * unique constraints are the last line. A lost race must still be a clean 200/409, never a 500.
 * Several rounds run side by side so the race is all but certain to be hit.
 */
const ROUNDS = 4;
const PARALLEL = 4;

async function race(send: (round: number) => Promise<ApiResult>): Promise<number[][]> {
  return Promise.all(
    Array.from({ length: ROUNDS }, async (_, round) => {
      const results = await Promise.all(Array.from({ length: PARALLEL }, () => send(round)));
      return results.map((r) => r.status).sort((a, b) => a - b);
    }),
  );
}

const oneWinner = (others: number) => Array.from({ length: ROUNDS }, () => [...Array(PARALLEL - 1).fill(others), 201].sort((a, b) => a - b));

describe("concurrent duplicate writes", () => {
  it("answer concurrent creates of one user handle with one 201 and 409s", async () => {
    const handles = Array.from({ length: ROUNDS }, () => unique("race"));
    expect(await race((r) => api("POST", "/users", { token: env.ADMIN_TOKEN, body: { handle: handles[r] } }))).toEqual(oneWinner(409));
  });

  it("answer concurrent creates of one server name with one 201 and 409s", async () => {
    const user = await createUser();
    const statuses = await race((r) => api("POST", "/servers", { token: user.token, body: { name: `racy-${r}`, url: "https://mcp.example.com/mcp" } }));
    expect(statuses).toEqual(oneWinner(409));
    expect((await api("GET", "/servers", { token: user.token })).body.servers).toHaveLength(ROUNDS);
  });

  it("answer concurrent creates of one preset slug with one 201 and 409s, and one preset.created event", async () => {
    const user = await createUser();
    const statuses = await race((r) => api("POST", "/presets", { token: user.token, body: { slug: `racy-${r}`, name: "x", visibility: "public" } }));
    expect(statuses).toEqual(oneWinner(409));
    const events = (await api("GET", "/presets/racy-0/events", { token: user.token })).body.events;
    expect(events.map((e: { type: string }) => e.type)).toEqual(["preset.created"]);
  });

  it("answer concurrent adds of one member with one 201 and 409s", async () => {
    const owner = await createUser();
    const friend = await createUser();
    for (let r = 0; r < ROUNDS; r++) await addPreset(owner, `club-${r}`, "invite_only");
    const statuses = await race((r) => api("POST", `/presets/club-${r}/members`, { token: owner.token, body: { handle: friend.handle } }));
    expect(statuses).toEqual(oneWinner(409));
  });

  it("answer concurrent first attaches of one server with one 201 and 200s, never 500", async () => {
    const user: TestUser = await createUser();
    const alpha = await addServer(user, "alpha", "https://mcp.example.com/mcp");
    for (let r = 0; r < ROUNDS; r++) await addPreset(user, `kit-${r}`);
    const statuses = await race((r) => api("PUT", `/presets/kit-${r}/servers/alpha`, { token: user.token, body: {} }));
    expect(statuses).toEqual(oneWinner(200));
    for (let r = 0; r < ROUNDS; r++) {
      expect(selectionsOf((await api("GET", `/presets/kit-${r}`, { token: user.token })).body.servers)).toEqual([
        { name: "alpha", serverId: alpha.id, enabled: true, tools: null },
      ]);
      const events = (await api("GET", `/presets/kit-${r}/events`, { token: user.token })).body.events;
      expect(events.filter((e: { type: string }) => e.type === "server.attached")).toHaveLength(1);
    }
  });
});
