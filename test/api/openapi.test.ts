import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { type ApiResult, api, createUser, givenPreset, type TestUser, unique, upstreamUrl } from "../helpers";

let doc: any;

beforeAll(async () => {
  const res = await api("GET", "/openapi.json");
  expect(res.status).toBe(200);
  doc = res.body;
});

/**
 * The subset of JSON Schema (OpenAPI 3.0 flavour) the generated document uses; returns the
 * problems found, so a failing assertion shows where a response and its schema disagree.
 */
function check(schema: any, value: unknown, at = "$"): string[] {
  if (!schema || Object.keys(schema).length === 0) return [];
  if (value === null) return schema.nullable ? [] : [`${at}: null not allowed`];
  if (schema.anyOf) return schema.anyOf.some((s: unknown) => check(s, value, at).length === 0) ? [] : [`${at}: matches no anyOf branch`];
  if (schema.enum && !schema.enum.includes(value)) return [`${at}: ${JSON.stringify(value)} not in enum`];
  const type = Array.isArray(value) ? "array" : Number.isInteger(value) ? "integer" : typeof value;
  if (schema.type && schema.type !== type && !(schema.type === "number" && type === "integer")) return [`${at}: expected ${schema.type}, got ${type}`];
  if (type === "array") return (value as unknown[]).flatMap((v, i) => check(schema.items, v, `${at}[${i}]`));
  if (type !== "object") return [];
  const obj = value as Record<string, unknown>;
  const problems = (schema.required ?? []).filter((k: string) => !(k in obj)).map((k: string) => `${at}.${k}: missing`);
  for (const [k, v] of Object.entries(obj)) {
    if (schema.properties?.[k]) problems.push(...check(schema.properties[k], v, `${at}.${k}`));
    else if (schema.additionalProperties === false) problems.push(`${at}.${k}: not in the documented schema`);
    else if (typeof schema.additionalProperties === "object") problems.push(...check(schema.additionalProperties, v, `${at}.${k}`));
  }
  return problems;
}

/** Asserts that a real response matches what the document says `method path` answers with that status. */
function expectDocumented(method: string, path: string, res: ApiResult): void {
  const documented = doc.paths[path][method].responses[String(res.status)];
  expect(documented, `${method} ${path} documents status ${res.status}`).toBeDefined();
  expect(check(documented.content?.["application/json"]?.schema, res.body)).toEqual([]);
}

/** Every route of the management API, written out here rather than read from src. */
const ROUTES: [string, string][] = [
  ["post", "/api/v1/users"],
  ["get", "/api/v1/me"],
  ["post", "/api/v1/tokens"],
  ["get", "/api/v1/tokens"],
  ["delete", "/api/v1/tokens/{id}"],
  ["post", "/api/v1/servers"],
  ["get", "/api/v1/servers"],
  ["get", "/api/v1/servers/{name}"],
  ["patch", "/api/v1/servers/{name}"],
  ["delete", "/api/v1/servers/{name}"],
  ["get", "/api/v1/servers/{name}/tools"],
  ["post", "/api/v1/presets"],
  ["get", "/api/v1/presets"],
  ["get", "/api/v1/presets/{slug}"],
  ["patch", "/api/v1/presets/{slug}"],
  ["delete", "/api/v1/presets/{slug}"],
  ["get", "/api/v1/presets/{slug}/drift"],
  ["post", "/api/v1/presets/{slug}/drift/approve"],
  ["post", "/api/v1/presets/{slug}/drift/reject"],
  ["put", "/api/v1/presets/{slug}/servers/{name}"],
  ["delete", "/api/v1/presets/{slug}/servers/{name}"],
  ["get", "/api/v1/presets/{slug}/export"],
  ["post", "/api/v1/presets/import"],
  ["post", "/api/v1/presets/{slug}/clone"],
  ["post", "/api/v1/presets/fork"],
  ["post", "/api/v1/presets/{slug}/members"],
  ["get", "/api/v1/presets/{slug}/members"],
  ["delete", "/api/v1/presets/{slug}/members/{handle}"],
  ["get", "/api/v1/presets/{slug}/events"],
  ["get", "/api/v1/presets/{slug}/calls"],
  ["get", "/api/v1/presets/{slug}/stats"],
  ["get", "/api/v1/events"],
  ["get", "/api/v1/servers/{name}/health"],
  ["post", "/api/v1/admin/demo"],
  ["get", "/api/v1/grants"],
  ["delete", "/api/v1/grants/{id}"],
  ["get", "/api/v1/presets/{slug}/grants"],
  ["delete", "/api/v1/presets/{slug}/grants/{id}"],
  ["get", "/api/v1/connections"],
  ["put", "/api/v1/connections/{user}/{slug}/{server}"],
  ["delete", "/api/v1/connections/{user}/{slug}/{server}"],
  ["post", "/api/v1/webhooks"],
  ["get", "/api/v1/webhooks"],
  ["get", "/api/v1/webhooks/{id}"],
  ["patch", "/api/v1/webhooks/{id}"],
  ["delete", "/api/v1/webhooks/{id}"],
  ["post", "/api/v1/webhooks/{id}/rotate-secret"],
  ["get", "/api/v1/webhooks/{id}/deliveries"],
  ["post", "/api/v1/webhooks/{id}/test"],
];

describe("GET /api/v1/openapi.json", () => {
  it("is an OpenAPI 3 document served without a token, with this gateway as its server", () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toEqual(expect.any(String));
    expect(doc.servers).toEqual([{ url: "http://gateway.test" }]);
  });

  it("describes exactly the routes the API serves", () => {
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops as object).map((m) => `${m} ${path}`));
    expect(documented.sort()).toEqual(ROUTES.map(([m, p]) => `${m} ${p}`).sort());
  });

  for (const [method, path] of ROUTES) {
    it(`documents ${method.toUpperCase()} ${path} with a summary, a security scheme and every path parameter`, () => {
      const op = doc.paths[path][method];
      expect(op.summary).toEqual(expect.any(String));
      const scheme = path === "/api/v1/users" || path === "/api/v1/admin/demo" ? "adminToken" : "apiToken";
      expect(op.security).toEqual([{ [scheme]: [] }]);
      const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const declared = (op.parameters ?? []).filter((p: { in: string }) => p.in === "path").map((p: { name: string }) => p.name);
      expect(declared).toEqual(pathParams);
      expect(op.responses["401"]).toBeDefined();
    });
  }

  it("generates POST /users' body schema from the validator: handle carries its pattern, minLength and maxLength", () => {
    const schema = doc.paths["/api/v1/users"].post.requestBody.content["application/json"].schema;
    expect(schema.type).toBe("object");
    expect(schema.required).toEqual(["handle"]);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.handle).toMatchObject({ type: "string", minLength: 3, maxLength: 39 });
    const pattern = new RegExp(schema.properties.handle.pattern);
    for (const ok of ["abc", "a-b-c", "x9"]) expect(pattern.test(ok)).toBe(true);
    for (const bad of ["Abc", "-abc", "abc-", "a_b"]) expect(pattern.test(bad)).toBe(false);
  });

  it("documents the same limits the API enforces for servers, presets and attach bodies", () => {
    const body = (path: string, method: string) => doc.paths[path][method].requestBody.content["application/json"].schema;
    const server = body("/api/v1/servers", "post");
    expect(server.properties.timeoutMs).toMatchObject({ minimum: 100, maximum: 300000 });
    expect(server.properties.url.maxLength).toBe(2048);
    expect(server.required.sort()).toEqual(["name", "url"]);
    const preset = body("/api/v1/presets", "post");
    expect(preset.properties.slug).toMatchObject({ minLength: 3, maxLength: 50 });
    expect(preset.properties.visibility.enum.sort()).toEqual(["invite_only", "private", "public"]);
    const patch = body("/api/v1/presets/{slug}", "patch");
    expect(patch.properties.status.enum.sort()).toEqual(["active", "archived", "disabled"]);
    const attach = body("/api/v1/presets/{slug}/servers/{name}", "put");
    expect(attach.properties.tools.nullable ?? attach.properties.tools.anyOf).toBeTruthy();
  });

  it("documents 404 on every route with a path parameter, since each answers 404 for an unknown one", () => {
    const undocumented = ROUTES.filter(([m, p]) => p.includes("{") && !doc.paths[p][m].responses["404"]).map(([m, p]) => `${m} ${p}`);
    expect(undocumented).toEqual([]);
  });

  it("documents the status codes a route really answers", async () => {
    const put = doc.paths["/api/v1/presets/{slug}/servers/{name}"].put;
    expect(Object.keys(put.responses)).toEqual(expect.arrayContaining(["200", "201", "400", "401", "403", "413", "415"]));
    expect(doc.paths["/api/v1/servers/{name}"].delete.responses["409"]).toBeDefined();
    const user = await createUser();
    const res = await api("POST", "/presets", { token: user.token, body: "nope", headers: { "content-type": "text/plain" } });
    expect(Object.keys(doc.paths["/api/v1/presets"].post.responses)).toContain(String(res.status));
  });
});

describe("real responses match the document", () => {
  let owner: TestUser;
  let created: ApiResult;
  let friend: TestUser;

  beforeAll(async () => {
    created = await api("POST", "/users", { token: env.ADMIN_TOKEN, body: { handle: unique("doc") } });
    owner = { id: created.body.user.id, handle: created.body.user.handle, token: created.body.token };
    friend = await createUser();
    await givenPreset({
      owner,
      slug: "documented",
      visibility: "invite_only",
      servers: [{ name: "alpha", url: upstreamUrl("alpha"), headers: { "X-Api-Key": "k" }, tools: ["echo"] }],
    });
  });

  it("matches POST /users 201", () => expectDocumented("post", "/api/v1/users", created));

  const reads: [string, string][] = [
    ["/api/v1/me", "/me"],
    ["/api/v1/tokens", "/tokens"],
    ["/api/v1/servers", "/servers"],
    ["/api/v1/servers/{name}", "/servers/alpha"],
    ["/api/v1/servers/{name}/tools", "/servers/alpha/tools"],
    ["/api/v1/presets", "/presets"],
    ["/api/v1/presets/{slug}", "/presets/documented"],
    ["/api/v1/presets/{slug}/members", "/presets/documented/members"],
    ["/api/v1/presets/{slug}/events", "/presets/documented/events?limit=2"],
    ["/api/v1/presets/{slug}/calls", "/presets/documented/calls"],
    ["/api/v1/presets/{slug}/stats", "/presets/documented/stats?window=1h"],
    ["/api/v1/events", "/events?type=token.*"],
    ["/api/v1/servers/{name}/health", "/servers/alpha/health"],
  ];
  for (const [documented, path] of reads) {
    it(`matches GET ${documented} 200`, async () => {
      const res = await api("GET", path, { token: owner.token });
      expect(res.status).toBe(200);
      expectDocumented("get", documented, res);
    });
  }

  it("matches POST /tokens and POST /presets/{slug}/members 201", async () => {
    expectDocumented("post", "/api/v1/tokens", await api("POST", "/tokens", { token: owner.token, body: { name: "doc" } }));
    const member = await api("POST", "/presets/documented/members", { token: owner.token, body: { handle: friend.handle } });
    expectDocumented("post", "/api/v1/presets/{slug}/members", member);
  });

  it("matches GET /presets/{slug}/export 200 and the 201 answers of import, clone and fork", async () => {
    const exported = await api("GET", "/presets/documented/export", { token: owner.token });
    expectDocumented("get", "/api/v1/presets/{slug}/export", exported);
    const imported = await api("POST", "/presets/import", { token: owner.token, body: { document: exported.body, slug: unique("imp") } });
    expect(imported.status).toBe(201);
    expectDocumented("post", "/api/v1/presets/import", imported);
    const cloned = await api("POST", "/presets/documented/clone", { token: owner.token, body: { slug: unique("cln") } });
    expect(cloned.status).toBe(201);
    expectDocumented("post", "/api/v1/presets/{slug}/clone", cloned);
    await api("PATCH", "/presets/documented", { token: owner.token, body: { visibility: "public" } });
    const forked = await api("POST", "/presets/fork", { token: friend.token, body: { from: `${owner.handle}/documented` } });
    expect(forked.status).toBe(201);
    expectDocumented("post", "/api/v1/presets/fork", forked);
    await api("PATCH", "/presets/documented", { token: owner.token, body: { visibility: "invite_only" } });
  });

  it("matches the documented 404 and 409 error schemas", async () => {
    expectDocumented("get", "/api/v1/presets/{slug}", await api("GET", "/presets/missing", { token: owner.token }));
    const dup = await api("POST", "/presets", { token: owner.token, body: { slug: "documented", name: "x", visibility: "public" } });
    expectDocumented("post", "/api/v1/presets", dup);
  });

  it("matches the documented 400 error schema, including error.field", async () => {
    const res = await api("POST", "/presets", { token: owner.token, body: { slug: "x", name: "x", visibility: "public" } });
    expect(res.body.error.field).toBe("slug");
    expectDocumented("post", "/api/v1/presets", res);
  });
});
