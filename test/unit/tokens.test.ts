import { describe, expect, it } from "vitest";
import { hashToken, issueToken, looksLikeApiToken, TOKEN_PREFIX } from "../../src/accounts/api-tokens";
import { sha256Hex, timingSafeEqual } from "../../src/shared/crypto";
import { newId, randomToken } from "../../src/shared/ids";

const ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

describe("issueToken", () => {
  it("issues mcpg_ followed by 40 characters of [0-9a-z]", async () => {
    const { token } = await issueToken();
    expect(TOKEN_PREFIX).toBe("mcpg_");
    expect(token).toMatch(/^mcpg_[0-9a-z]{40}$/);
  });

  it("stores the token's SHA-256 hex as its hash", async () => {
    const issued = await issueToken();
    expect(issued.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(issued.hash).toBe(await sha256Hex(issued.token));
    expect(issued.hash).not.toContain(issued.token.slice(5));
  });

  it("exposes only the prefix and the first six secret characters as the display prefix", async () => {
    const issued = await issueToken();
    expect(issued.prefix).toBe(issued.token.slice(0, 11));
    expect(issued.prefix).toMatch(/^mcpg_[0-9a-z]{6}$/);
  });

  it("issues a different token every time", async () => {
    const tokens = await Promise.all(Array.from({ length: 20 }, () => issueToken()));
    expect(new Set(tokens.map((t) => t.token)).size).toBe(20);
    expect(new Set(tokens.map((t) => t.hash)).size).toBe(20);
  });

  it("issues tokens that looksLikeApiToken recognises", async () => {
    expect(looksLikeApiToken((await issueToken()).token)).toBe(true);
  });
});

describe("looksLikeApiToken", () => {
  const body = "a".repeat(40);

  it("accepts the prefix followed by exactly 40 characters", () => {
    expect(looksLikeApiToken(`mcpg_${body}`)).toBe(true);
  });

  it.each([
    ["one character short", `mcpg_${body.slice(1)}`],
    ["one character long", `mcpg_${body}a`],
    ["the bare prefix", "mcpg_"],
    ["a wrong prefix", `mcpx_${body}`],
    ["an upper-case prefix", `MCPG_${body}`],
    ["no prefix", "a".repeat(45)],
    ["a JWT-like string", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.signature"],
    ["the empty string", ""],
  ])("rejects %s", (_what, value) => {
    expect(looksLikeApiToken(value)).toBe(false);
  });
});

describe("hashToken / sha256Hex", () => {
  it('matches the FIPS 180-2 test vector for "abc"', async () => {
    expect(await sha256Hex("abc")).toBe(ABC_SHA256);
    expect(await hashToken("abc")).toBe(ABC_SHA256);
  });

  it("matches the known hash of the empty string", async () => {
    expect(await sha256Hex("")).toBe(EMPTY_SHA256);
  });

  it("hashes the UTF-8 bytes of the string", async () => {
    // SHA-256 of the two UTF-8 bytes c3 a9 ("é").
    expect(await sha256Hex("é")).toBe("4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c");
    // Not the Latin-1 byte e9.
    expect(await sha256Hex("é")).not.toBe("de2e331d891ae267a7009cb45b4e8830f170e0c937288ea2731a1941c7a53b0d");
  });
});

describe("randomToken", () => {
  it("returns the requested number of [0-9a-z] characters", () => {
    expect(randomToken(0)).toBe("");
    expect(randomToken(1)).toMatch(/^[0-9a-z]$/);
    expect(randomToken(64)).toMatch(/^[0-9a-z]{64}$/);
  });

  it("uses the whole alphabet over many draws", () => {
    const seen = new Set(randomToken(4000));
    expect(seen.size).toBe(36);
  });
});

describe("newId", () => {
  it("starts with the prefix and an underscore, followed by 21 characters of [0-9a-z]", () => {
    expect(newId("prs", 1_700_000_000_000)).toMatch(/^prs_[0-9a-z]{21}$/);
    expect(newId("usr")).toMatch(/^usr_[0-9a-z]{21}$/);
  });

  it("encodes the time as nine base-36 characters", () => {
    const now = 1_700_000_000_000;
    expect(newId("prs", now).slice(4, 13)).toBe(now.toString(36).padStart(9, "0"));
    expect(newId("prs", 0).slice(4, 13)).toBe("000000000");
  });

  it("sorts ids of later times after ids of earlier times", () => {
    const times = [0, 35, 36, 1_000, 1_699_999_999_999, 1_700_000_000_000, 1_700_000_000_001, 4_102_444_800_000];
    const ids = times.map((t) => newId("evt", t));
    expect([...ids].sort()).toEqual(ids);
  });

  it("gives different ids in the same millisecond", () => {
    const ids = Array.from({ length: 50 }, () => newId("evt", 1_700_000_000_000));
    expect(new Set(ids).size).toBe(50);
  });
});

describe("timingSafeEqual", () => {
  it("is true for equal strings", () => {
    expect(timingSafeEqual("", "")).toBe(true);
    expect(timingSafeEqual("test-admin-token", "test-admin-token")).toBe(true);
    expect(timingSafeEqual("ünïcødé", "ünïcødé")).toBe(true);
  });

  it.each([
    ["differ in the last character", "secret-a", "secret-b"],
    ["differ in the first character", "asecret", "bsecret"],
    ["one is a prefix of the other", "secret", "secret-longer"],
    ["one is empty", "", "secret"],
    ["differ only in case", "Secret", "secret"],
    ["differ in a multi-byte character", "café", "cafè"],
    ["one has a trailing NUL", "secret", "secret\u0000"],
  ])("is false when the strings %s", (_what, a, b) => {
    expect(timingSafeEqual(a, b)).toBe(false);
    expect(timingSafeEqual(b, a)).toBe(false);
  });
});
