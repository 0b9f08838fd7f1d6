import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  AttachServerBody,
  CreatePresetBody,
  CreateServerBody,
  CreateTokenBody,
  CreateUserBody,
  EventsQuery,
  SlugParams,
  UpdatePresetBody,
  UpdateServerBody,
} from "../../../src/api/schemas";
import { describeIssue, parseWith } from "../../../src/api/validation";
import { ApiError } from "../../../src/shared/errors";

/** The ApiError parseWith throws, failing the test if it parsed. */
function failure(schema: z.ZodType, value: unknown, where = "body"): ApiError {
  try {
    parseWith(schema, value, where);
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be refused`);
}

const server = { name: "alpha", url: "https://mcp.example.com/mcp" };

describe("parseWith: accepted input", () => {
  it("returns the parsed data", () => {
    expect(parseWith(CreateServerBody, { ...server, timeoutMs: 5000 }, "body")).toEqual({ ...server, timeoutMs: 5000 });
  });

  it("returns transformed data, such as a trimmed name", () => {
    expect(parseWith(CreateTokenBody, { name: "  laptop  " }, "body")).toEqual({ name: "laptop", scope: "manage" });
  });

  it("returns coerced query values", () => {
    expect(parseWith(EventsQuery, { limit: "50" }, "query")).toEqual({ limit: 50 });
  });
});

describe("parseWith: field errors", () => {
  it("answers 400 invalid_field naming the field and the problem", () => {
    const err = failure(CreateUserBody, { handle: "ab" });
    expect(err.status).toBe(400);
    expect(err.code).toBe("invalid_field");
    expect(err.field).toBe("handle");
    expect(err.message).toBe("handle: must be at least 3 characters");
  });

  it.each(["alpha_", "alpha-", "_alpha", "a__b"])("refuses the server name %s, which could not be routed back from <server>__<tool>", (name) => {
    expect(failure(CreateServerBody, { ...server, name }).field).toBe("name");
  });

  it("uses the schema's own message for a pattern failure", () => {
    expect(failure(CreateUserBody, { handle: "-bad-" }).message).toBe(
      "handle: may contain only lowercase letters, digits and hyphens, and may not start or end with a hyphen",
    );
  });

  it("says a missing required field is required", () => {
    const err = failure(CreateUserBody, {});
    expect(err.message).toBe("handle: is required");
    expect(err.field).toBe("handle");
  });

  it("says a missing enum field is required, not that its value is an invalid option", () => {
    expect(failure(CreatePresetBody, { slug: "my-preset", name: "Mine" }).message).toBe("visibility: is required");
  });

  it.each([
    ["a number for a string field", CreateUserBody, { handle: 123 }, "handle"],
    ["null for a string field", CreateServerBody, { name: "alpha", url: null }, "url"],
    ["a string for a number field", CreateServerBody, { ...server, timeoutMs: "5000" }, "timeoutMs"],
    ["a non-numeric query value", EventsQuery, { limit: "abc" }, "limit"],
  ])("does not call %s missing", (_what, schema, value, field) => {
    const err = failure(schema, value);
    expect(err.field).toBe(field);
    expect(err.message.startsWith(`${field}: `)).toBe(true);
    expect(err.message).not.toBe(`${field}: is required`);
  });

  it("names the options of an enum field", () => {
    const err = failure(CreatePresetBody, { slug: "my-preset", name: "Mine", visibility: "secret" });
    expect(err.field).toBe("visibility");
    expect(err.message).toMatch(/^visibility: /);
    for (const option of ["public", "private", "invite_only"]) expect(err.message).toContain(option);
  });

  it("names a nested field by its dotted path", () => {
    const err = failure(CreateServerBody, { ...server, headers: { Authorization: "x".repeat(4097) } });
    expect(err.field).toBe("headers.Authorization");
    expect(err.message).toBe("headers.Authorization: must be at most 4096 characters");
  });

  it("names an array element by its index", () => {
    const err = failure(AttachServerBody, { tools: ["echo", ""] });
    expect(err.field).toBe("tools.1");
    expect(err.message).toBe("tools.1: must not be empty");
  });

  it("explains a refused header name with the schema's reason, not a generic one", () => {
    const reserved = failure(CreateServerBody, { ...server, headers: { Host: "evil.example" } });
    expect(reserved.message).toMatch(/^headers\.Host: /);
    expect(reserved.message).toContain("is reserved by HTTP or MCP and cannot be set");
    const invalid = failure(CreateServerBody, { ...server, headers: { "bad name": "x" } });
    expect(invalid.message).toContain("is not a valid header name");
  });

  it("explains why a server name with '__' is refused", () => {
    expect(failure(CreateServerBody, { ...server, name: "a__b" }).message).toBe("name: may not contain '__', which separates server and tool names");
  });

  it("falls back to `where` for an error on the whole value", () => {
    const err = failure(UpdateServerBody, {});
    expect(err.field).toBe("body");
    expect(err.message).toBe("body: must change at least one field");
    expect(failure(UpdatePresetBody, {}, "request").message).toBe("request: must change at least one field");
  });

  it("names the path parameter at fault", () => {
    const err = failure(SlugParams, { slug: "No" }, "path");
    expect(err.field).toBe("slug");
    expect(err.message).toBe("slug: must be at least 3 characters");
  });
});

describe("parseWith: unknown fields", () => {
  it("answers 400 unknown_field naming the field", () => {
    const err = failure(CreateUserBody, { handle: "alice", admin: true });
    expect(err.status).toBe(400);
    expect(err.code).toBe("unknown_field");
    expect(err.field).toBe("admin");
    expect(err.message).toBe("Unknown field: admin.");
  });

  it("lists every unknown field and points at the first", () => {
    const err = failure(CreateTokenBody, { name: "ci", roles: "all", expires: 1 });
    expect(err.code).toBe("unknown_field");
    expect(err.message).toBe("Unknown fields: roles, expires.");
    expect(err.field).toBe("roles");
  });

  it("refuses unknown query parameters too", () => {
    const err = failure(EventsQuery, { limit: "5", offset: "10" }, "query");
    expect(err.code).toBe("unknown_field");
    expect(err.field).toBe("offset");
  });

  it("prefixes the path of a nested object to the unknown field", () => {
    const Nested = z.strictObject({ outer: z.strictObject({ a: z.string() }) });
    const err = failure(Nested, { outer: { a: "x", b: 1 } });
    expect(err.code).toBe("unknown_field");
    expect(err.field).toBe("outer.b");
    expect(err.message).toBe("Unknown field: b.");
  });
});

describe("describeIssue", () => {
  it("answers a generic 400 naming `where` when zod reports no issue", () => {
    const err = describeIssue(new z.ZodError([]), "query");
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(400);
    expect(err.code).toBe("invalid_request");
    expect(err.message).toBe("Invalid query.");
  });

  it("describes only the first of several issues", () => {
    const result = CreatePresetBody.safeParse({ slug: "x", name: "", visibility: "nope" });
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(result.error.issues.length).toBeGreaterThan(1);
    expect(describeIssue(result.error, "body").message).toBe("slug: must be at least 3 characters");
  });
});
