import { describe, expect, it } from "vitest";
import { decryptSecret, encryptSecret } from "../../src/shared/crypto";

const KEY = "unit-test-encryption-key-0123456789abcdef";
const OTHER_KEY = "another-encryption-key-0123456789abcdef";
const ROW = "srv_0000000001abcdefghijkl";

function fromB64u(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
function toB64u(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The sealed value with one bit of part `index` (1 = IV, 2 = ciphertext) flipped at byte `at`. */
function flipBit(sealed: string, index: 1 | 2, at: number): string {
  const parts = sealed.split(".");
  const bytes = fromB64u(parts[index]!);
  bytes[at] = bytes[at]! ^ 0x01;
  parts[index] = toB64u(bytes);
  return parts.join(".");
}

describe("encryptSecret / decryptSecret", () => {
  it("round-trips a header value", async () => {
    const sealed = await encryptSecret(KEY, "Bearer sk-live-abc123", ROW);
    expect(await decryptSecret(KEY, sealed, ROW)).toBe("Bearer sk-live-abc123");
  });

  it("round-trips the empty string and non-ASCII text", async () => {
    expect(await decryptSecret(KEY, await encryptSecret(KEY, "", ROW), ROW)).toBe("");
    expect(await decryptSecret(KEY, await encryptSecret(KEY, "clé ✓ 秘密", ROW), ROW)).toBe("clé ✓ 秘密");
  });

  it("seals in the v1.<iv>.<ciphertext> format with a 12-byte IV and a 16-byte tag", async () => {
    const sealed = await encryptSecret(KEY, "hello", ROW);
    expect(sealed.startsWith("v1.")).toBe(true);
    const parts = sealed.split(".");
    expect(parts).toHaveLength(3);
    expect(parts[1]).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(parts[2]).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(fromB64u(parts[1]!)).toHaveLength(12);
    expect(fromB64u(parts[2]!)).toHaveLength("hello".length + 16);
  });

  it("does not contain the plaintext", async () => {
    const plaintext = "Bearer sk-live-abc123";
    const sealed = await encryptSecret(KEY, plaintext, ROW);
    expect(sealed).not.toContain(plaintext);
    expect(sealed).not.toContain(toB64u(new TextEncoder().encode(plaintext)));
  });

  it("gives a different IV and ciphertext each time for the same input", async () => {
    const a = await encryptSecret(KEY, "same", ROW);
    const b = await encryptSecret(KEY, "same", ROW);
    expect(a).not.toBe(b);
    expect(a.split(".")[1]).not.toBe(b.split(".")[1]);
    expect(a.split(".")[2]).not.toBe(b.split(".")[2]);
    expect(await decryptSecret(KEY, a, ROW)).toBe("same");
    expect(await decryptSecret(KEY, b, ROW)).toBe("same");
  });

  it("fails to decrypt with a different key", async () => {
    const sealed = await encryptSecret(KEY, "secret", ROW);
    await expect(decryptSecret(OTHER_KEY, sealed, ROW)).rejects.toThrow();
  });

  it("fails to decrypt a value bound to another row", async () => {
    const sealed = await encryptSecret(KEY, "secret", ROW);
    await expect(decryptSecret(KEY, sealed, "srv_someoneelse")).rejects.toThrow();
    await expect(decryptSecret(KEY, sealed, "")).rejects.toThrow();
  });

  it("fails to decrypt when any bit of the ciphertext or tag is flipped", async () => {
    const sealed = await encryptSecret(KEY, "secret", ROW);
    const length = fromB64u(sealed.split(".")[2]!).length;
    for (const at of [0, 3, length - 16, length - 1]) {
      const tampered = flipBit(sealed, 2, at);
      expect(tampered).not.toBe(sealed);
      await expect(decryptSecret(KEY, tampered, ROW), `byte ${at}`).rejects.toThrow();
    }
  });

  it("fails to decrypt when the IV is changed", async () => {
    const sealed = await encryptSecret(KEY, "secret", ROW);
    await expect(decryptSecret(KEY, flipBit(sealed, 1, 0), ROW)).rejects.toThrow();
  });

  it("fails to decrypt a truncated ciphertext", async () => {
    const sealed = await encryptSecret(KEY, "secret", ROW);
    const [v, iv, ct] = sealed.split(".");
    const shorter = toB64u(fromB64u(ct!).slice(0, -1));
    await expect(decryptSecret(KEY, `${v}.${iv}.${shorter}`, ROW)).rejects.toThrow();
  });

  it.each(["", "v1", "v1.", "v1.abc", "v1..abc", "v2.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA", "plaintext-value"])(
    "refuses the unrecognised format %j with an error",
    async (sealed) => {
      await expect(decryptSecret(KEY, sealed, ROW)).rejects.toThrow("unrecognised ciphertext format");
    },
  );

  it("refuses a v2-labelled copy of a valid v1 ciphertext", async () => {
    const sealed = await encryptSecret(KEY, "secret", ROW);
    await expect(decryptSecret(KEY, sealed.replace(/^v1\./, "v2."), ROW)).rejects.toThrow("unrecognised ciphertext format");
  });
});
