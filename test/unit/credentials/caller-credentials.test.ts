import { describe, expect, it } from "vitest";
import {
  CREDENTIALS_REQUIRED_CODE,
  CredentialsRequired,
  credentialsRequiredError,
  needsCallerCredentials,
  URL_ELICITATION_REQUIRED_CODE,
} from "../../../src/credentials/caller-credentials";
import { checkUserHeaders } from "../../../src/credentials/user-headers";

describe("needsCallerCredentials", () => {
  it("is true for oauth servers and for servers with per-user headers only", () => {
    expect(needsCallerCredentials({ auth: "owner", userHeaders: [] })).toBe(false);
    expect(needsCallerCredentials({ auth: "oauth", userHeaders: [] })).toBe(true);
    expect(needsCallerCredentials({ auth: "owner", userHeaders: ["X-Api-Key"] })).toBe(true);
  });
});

describe("credentialsRequiredError", () => {
  const e = new CredentialsRequired(
    "files",
    "https://gw.example/connect/ann/tools/files",
    "The server 'files' needs your own credentials: connect it at https://gw.example/connect/ann/tools/files",
  );

  it("gives clients that declared URL elicitation a -32042 with one url elicitation", () => {
    const err = credentialsRequiredError(e, { elicitation: { url: {} } });
    expect(err.code).toBe(URL_ELICITATION_REQUIRED_CODE);
    expect(err.code).toBe(-32042);
    expect(err.data.elicitations).toEqual([{ mode: "url", elicitationId: expect.any(String), url: e.connectUrl, message: expect.stringContaining("files") }]);
  });

  it("gives every other client a plain error naming the server and the connect URL", () => {
    for (const caps of [{}, { elicitation: {} }, { elicitation: { form: {} } }]) {
      const err = credentialsRequiredError(e, caps);
      expect(err.code).toBe(CREDENTIALS_REQUIRED_CODE);
      expect(err.message).toContain("files");
      expect(err.message).toContain(e.connectUrl);
      expect(err.data).toEqual({ server: "files", connectUrl: e.connectUrl });
    }
  });

  it("never sends a URL elicitation without a URL (an anonymous caller)", () => {
    const anon = new CredentialsRequired("files", null, "sign in first");
    const err = credentialsRequiredError(anon, { elicitation: { url: {} } });
    expect(err.code).toBe(CREDENTIALS_REQUIRED_CODE);
    expect(err.data.connectUrl).toBeNull();
  });
});

describe("checkUserHeaders", () => {
  it("stores values under the declared spelling", () => {
    expect(checkUserHeaders(["X-Api-Key"], { "x-api-key": "k" })).toEqual({ ok: true, headers: { "X-Api-Key": "k" } });
  });

  it("names the field at fault", () => {
    expect(checkUserHeaders([], { a: "b" })).toMatchObject({ ok: false, field: "headers" });
    expect(checkUserHeaders(["X-Api-Key"], { Authorization: "x" })).toMatchObject({ ok: false, field: "headers.Authorization" });
    expect(checkUserHeaders(["X-Api-Key", "X-Org"], { "X-Api-Key": "k" })).toMatchObject({ ok: false, field: "headers.X-Org", problem: "is required" });
    expect(checkUserHeaders(["X-Api-Key"], { "X-Api-Key": "a\nb" })).toMatchObject({ ok: false, field: "headers.X-Api-Key" });
    expect(checkUserHeaders(["X-Api-Key"], { "X-Api-Key": "" })).toMatchObject({ ok: false, field: "headers.X-Api-Key" });
    expect(checkUserHeaders(["X-Api-Key"], { "X-Api-Key": "x".repeat(4097) })).toMatchObject({ ok: false, field: "headers.X-Api-Key" });
    expect(checkUserHeaders(["X-Api-Key"], { "X-Api-Key": "a", "x-api-key": "b" })).toMatchObject({ ok: false, problem: "is given twice" });
  });
});
