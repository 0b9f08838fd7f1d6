import { describe, expect, it } from "vitest";
import { addServer, api, createUser, type TestUser } from "../helpers";
import { expectInvalid } from "./expect-error";

const GOOD_URL = "https://mcp.example.com/mcp";

/** The user's servers as GET /servers shows them, to prove a refused write changed nothing. */
const serversOf = async (user: TestUser) => (await api("GET", "/servers", { token: user.token })).body.servers;

async function expectRefusedCreate(body: Record<string, unknown>, field: string) {
  const user = await createUser();
  await addServer(user, "existing", GOOD_URL);
  const before = await serversOf(user);
  const res = await api("POST", "/servers", { token: user.token, body: { name: "fresh", url: GOOD_URL, ...body } });
  expectInvalid(res, field);
  expect(await serversOf(user)).toEqual(before);
  return res;
}

async function expectRefusedPatch(body: Record<string, unknown>, field: string) {
  const user = await createUser();
  await addServer(user, "existing", GOOD_URL, { headers: { "X-Key": "v" }, timeoutMs: 1234 });
  const before = await serversOf(user);
  const res = await api("PATCH", "/servers/existing", { token: user.token, body });
  expectInvalid(res, field);
  expect(await serversOf(user)).toEqual(before);
  return res;
}

describe("server name rules", () => {
  const bad: [string, string][] = [
    ["uppercase", "Alpha"],
    ["33 characters", "a".repeat(33)],
    ["a leading underscore", "_alpha"],
    ["a leading hyphen", "-alpha"],
    ["a double underscore", "al__pha"],
    ["a trailing underscore", "alpha_"],
    ["a trailing hyphen", "alpha-"],
    ["a dot", "al.pha"],
    ["nothing", ""],
  ];
  for (const [what, name] of bad) {
    it(`rejects a server name with ${what} with 400 naming name and creates nothing`, async () => {
      await expectRefusedCreate({ name }, "name");
    });
  }

  it("explains that '__' is reserved as the server/tool separator", async () => {
    const res = await expectRefusedCreate({ name: "a__b" }, "name");
    expect(res.body.error.message).toContain("__");
  });

  it("accepts a 32-character name with single underscores and hyphens", async () => {
    const user = await createUser();
    const name = "a_b-c".padEnd(32, "9");
    const res = await api("POST", "/servers", { token: user.token, body: { name, url: GOOD_URL } });
    expect(res.status).toBe(201);
    expect(res.body.name).toBe(name);
  });

  it("rejects a bad name on PATCH with 400 naming name and changes nothing", async () => {
    await expectRefusedPatch({ name: "Bad" }, "name");
  });
});

describe("server url rules", () => {
  const bad: [string, string, RegExp][] = [
    ["something that is not a URL", "not a url", /valid absolute URL/],
    ["an ftp: URL", "ftp://example.com/mcp", /https/],
    ["a private 10/8 address", "https://10.0.0.1/mcp", /private or reserved/],
    ["a private 192.168/16 address", "https://192.168.1.1/mcp", /private or reserved/],
    ["a private 172.16/12 address", "https://172.20.0.5/mcp", /private or reserved/],
    ["the cloud metadata address", "https://169.254.169.254/latest", /private or reserved/],
    ["an IPv4-mapped IPv6 private address", "https://[::ffff:10.0.0.1]/mcp", /private or reserved/],
    ["a unique-local IPv6 address", "https://[fd00::1]/mcp", /private or reserved/],
    ["an IPv4-translated IPv6 metadata address", "https://[::ffff:0:a9fe:a9fe]/mcp", /private or reserved/],
    ["an IPv4-compatible IPv6 loopback address", "https://[::7f00:1]/mcp", /private or reserved/],
    ["a 6to4 address embedding the metadata address", "https://[2002:a9fe:a9fe::]/mcp", /private or reserved/],
    ["a site-local IPv6 address", "https://[fec0::1]/mcp", /private or reserved/],
    ["a documentation IPv6 address", "https://[2001:db8::1]/mcp", /private or reserved/],
    ["a Kubernetes service name", "https://api.default.svc.cluster.local/mcp", /public host name/],
    ["a Consul service name", "https://vault.service.consul/mcp", /public host name/],
    ["a single-label host name", "https://intranet/mcp", /public host name/],
    ["a .local host name", "https://printer.local/mcp", /public host name/],
    ["a .internal host name", "https://metadata.google.internal/computeMetadata", /public host name/],
    ["plain http on a public host (even with ALLOW_INSECURE_UPSTREAMS)", "http://example.com/mcp", /plain http only on loopback/],
    ["credentials in it", "https://user:pass@example.com/mcp", /credentials/],
    ["a fragment", "https://example.com/mcp#frag", /fragment/],
    ["2049 characters", `https://example.com/${"a".repeat(2029)}`, /2048/],
  ];
  for (const [what, url, reason] of bad) {
    it(`rejects a url with ${what} with 400 naming url and creates nothing`, async () => {
      const res = await expectRefusedCreate({ url }, "url");
      expect(res.body.error.message).toMatch(reason);
    });
  }

  // A fully qualified name with a trailing dot is the same host as without it.
  for (const url of ["https://metadata.google.internal./computeMetadata", "https://printer.local./mcp"]) {
    it(`rejects the trailing-dot spelling ${url} of a blocked host name with 400 naming url`, async () => {
      await expectRefusedCreate({ url }, "url");
    });
  }

  it("accepts a loopback http URL because the tests run with ALLOW_INSECURE_UPSTREAMS=true", async () => {
    const user = await createUser();
    const res = await api("POST", "/servers", { token: user.token, body: { name: "loop", url: "http://127.0.0.1:9/mcp" } });
    expect(res.status).toBe(201);
  });

  it("rejects a private url on PATCH with 400 naming url and keeps the old url", async () => {
    await expectRefusedPatch({ url: "https://192.168.1.1/mcp" }, "url");
  });

  it("rejects a missing url with 400 naming url", async () => {
    const user = await createUser();
    expectInvalid(await api("POST", "/servers", { token: user.token, body: { name: "nourl" } }), "url");
  });
});

describe("server headers rules", () => {
  for (const name of ["Host", "Mcp-Session-Id", "content-type", "MCP-Protocol-Version"]) {
    it(`rejects the reserved header ${name} with 400 naming headers.${name}`, async () => {
      await expectRefusedCreate({ headers: { [name]: "x" } }, `headers.${name}`);
    });
  }

  it("says why a reserved header name is refused", async () => {
    const res = await expectRefusedCreate({ headers: { Host: "evil.example" } }, "headers.Host");
    expect(res.body.error.message).toMatch(/reserved/);
  });

  it("rejects a header name with a space with 400 naming headers", async () => {
    const res = await expectRefusedCreate({ headers: { "X Key": "v" } }, "headers.X Key");
    expect(res.body.error.field).toMatch(/^headers\./);
  });

  for (const [what, value] of [
    ["a newline", "a\nb"],
    ["a carriage return", "a\rSet-Cookie: x"],
  ] as const) {
    it(`rejects a header value with ${what} with 400 naming the header`, async () => {
      await expectRefusedCreate({ headers: { "X-Key": value } }, "headers.X-Key");
    });
  }

  it("rejects 21 headers with 400 naming headers", async () => {
    const headers = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, "v"]));
    const res = await expectRefusedCreate({ headers }, "headers");
    expect(res.body.error.message).toMatch(/20/);
  });

  it("accepts exactly 20 headers", async () => {
    const user = await createUser();
    const headers = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`X-H${i}`, "v"]));
    const res = await api("POST", "/servers", { token: user.token, body: { name: "twenty", url: GOOD_URL, headers } });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body.headers)).toHaveLength(20);
  });

  it("rejects a reserved header on PATCH and keeps the old headers", async () => {
    await expectRefusedPatch({ headers: { "Mcp-Session-Id": "x" } }, "headers.Mcp-Session-Id");
  });

  it("rejects headers that are not an object with 400 naming headers", async () => {
    await expectRefusedCreate({ headers: ["Authorization: x"] }, "headers");
  });
});

describe("server timeoutMs rules", () => {
  const bad: [string, unknown, RegExp][] = [
    ["below 100 (50)", 50, /at least 100/],
    ["above 300000 (400000)", 400_000, /at most 300000/],
    ["not an integer (1.5)", 1.5, /integer/],
    ['a string ("1000")', "1000", /number/],
  ];
  for (const [what, timeoutMs, reason] of bad) {
    it(`rejects a timeoutMs ${what} with 400 naming timeoutMs and a reason`, async () => {
      const res = await expectRefusedCreate({ timeoutMs }, "timeoutMs");
      expect(res.body.error.message).toMatch(reason);
    });
  }

  it("rejects a bad timeoutMs on PATCH and keeps the old one", async () => {
    await expectRefusedPatch({ timeoutMs: 50 }, "timeoutMs");
  });

  it("accepts the bounds 100 and 300000", async () => {
    const user = await createUser();
    for (const [name, timeoutMs] of [
      ["lo", 100],
      ["hi", 300_000],
    ] as const) {
      const res = await api("POST", "/servers", { token: user.token, body: { name, url: GOOD_URL, timeoutMs } });
      expect({ name, status: res.status, timeoutMs: res.body.timeoutMs }).toEqual({ name, status: 201, timeoutMs });
    }
  });
});

describe("server PATCH body rules", () => {
  it("rejects an empty PATCH body {} with 400 naming body", async () => {
    const res = await expectRefusedPatch({}, "body");
    expect(res.body.error.message).toMatch(/at least one field/);
  });

  it("rejects an unknown field with 400 unknown_field naming it", async () => {
    const user = await createUser();
    await addServer(user, "existing", GOOD_URL);
    const res = await api("PATCH", "/servers/existing", { token: user.token, body: { timeout: 1000 } });
    expect({ status: res.status, code: res.body.error.code, field: res.body.error.field }).toEqual({
      status: 400,
      code: "unknown_field",
      field: "timeout",
    });
    expect((await api("GET", "/servers/existing", { token: user.token })).body.timeoutMs).toBe(30_000);
  });
});
