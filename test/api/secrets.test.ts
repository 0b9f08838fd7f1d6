import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { addServer, api, createUser, unique, upstreamStats, upstreamUrl } from "../helpers";

interface ServerRow {
  id: string;
  headers_enc: string | null;
  header_names: string;
}

const serverRow = (id: string) => env.DB.prepare("SELECT id, headers_enc, header_names FROM servers WHERE id = ?").bind(id).first<ServerRow>();

describe("upstream header secrets at rest", () => {
  it("stores header values encrypted (v1.<iv>.<ciphertext>), never in plaintext", async () => {
    const user = await createUser();
    const secret = `sk-live-${crypto.randomUUID()}`;
    const created = await addServer(user, "vault", "https://mcp.example.com/mcp", {
      headers: { Authorization: `Bearer ${secret}`, "X-Api-Key": secret },
    });
    const row = await serverRow(created.id);
    expect(row?.headers_enc).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(row!.headers_enc).not.toContain(secret);
    expect(row!.headers_enc).not.toContain(btoa(secret).replace(/=+$/, ""));
    expect(JSON.parse(row!.header_names)).toEqual(["Authorization", "X-Api-Key"]);
    const { results } = await env.DB.prepare("SELECT * FROM servers WHERE id = ?").bind(created.id).all();
    expect(JSON.stringify(results)).not.toContain(secret);
  });

  it("encrypts the same headers differently for two servers (fresh IV, bound to the row)", async () => {
    const user = await createUser();
    const headers = { "X-Api-Key": "same-value" };
    const a = await addServer(user, "one", "https://mcp.example.com/a", { headers });
    const b = await addServer(user, "two", "https://mcp.example.com/b", { headers });
    const [ra, rb] = [await serverRow(a.id), await serverRow(b.id)];
    expect(ra!.headers_enc).not.toBe(rb!.headers_enc);
  });

  it("re-encrypts replaced headers on PATCH, leaving no trace of the old or new value", async () => {
    const user = await createUser();
    const created = await addServer(user, "rotate", "https://mcp.example.com/mcp", { headers: { "X-Api-Key": "old-secret-value" } });
    const before = (await serverRow(created.id))!.headers_enc;
    const res = await api("PATCH", "/servers/rotate", { token: user.token, body: { headers: { "X-Api-Key": "new-secret-value" } } });
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body)).not.toContain("new-secret-value");
    const after = (await serverRow(created.id))!.headers_enc!;
    expect(after).not.toBe(before);
    expect(after.startsWith("v1.")).toBe(true);
    expect(after).not.toContain("new-secret-value");
  });

  it("stores no ciphertext for a server without headers", async () => {
    const user = await createUser();
    const created = await addServer(user, "plain", "https://mcp.example.com/mcp");
    expect(await serverRow(created.id)).toMatchObject({ headers_enc: null, header_names: "[]" });
  });

  it("decrypts the headers for the upstream: GET tools arrives upstream with the stored Authorization", async () => {
    const user = await createUser();
    const scope = unique("hdr");
    const secret = `Bearer ${crypto.randomUUID()}`;
    await addServer(user, "alpha", upstreamUrl("alpha", scope), { headers: { Authorization: secret, "X-Api-Key": "k1" } });
    const res = await api("GET", "/servers/alpha/tools", { token: user.token });
    expect(res.status).toBe(200);
    const stats = await upstreamStats("alpha", scope);
    expect(stats.lastHeaders?.authorization).toBe(secret);
    expect(stats.lastHeaders?.["x-api-key"]).toBe("k1");
  });

  it("sends the new header value upstream after a PATCH", async () => {
    const user = await createUser();
    const scope = unique("hdr-patch");
    await addServer(user, "alpha", upstreamUrl("alpha", scope), { headers: { "X-Api-Key": "before" } });
    await api("PATCH", "/servers/alpha", { token: user.token, body: { headers: { "X-Api-Key": "after" } } });
    expect((await api("GET", "/servers/alpha/tools", { token: user.token })).status).toBe(200);
    expect((await upstreamStats("alpha", scope)).lastHeaders?.["x-api-key"]).toBe("after");
  });
});
