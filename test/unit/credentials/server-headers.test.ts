import { describe, expect, it } from "vitest";
import { CreateServerBody, ServerHeaders } from "../../../src/api/schemas";

describe("ServerHeaders (owner values and per-user templates)", () => {
  it("takes owner strings and {perUser: true} side by side", () => {
    expect(ServerHeaders.parse({ "X-Team": "t", "X-Api-Key": { perUser: true } })).toEqual({ "X-Team": "t", "X-Api-Key": { perUser: true } });
  });

  it("refuses other template shapes, a name given twice in another case, reserved names and too many templates", () => {
    expect(ServerHeaders.safeParse({ "X-Api-Key": { perUser: false } }).success).toBe(false);
    expect(ServerHeaders.safeParse({ "X-Api-Key": { perUser: true, default: "k" } }).success).toBe(false);
    expect(ServerHeaders.safeParse({ "X-Api-Key": "a", "x-api-key": { perUser: true } }).success).toBe(false);
    expect(ServerHeaders.safeParse({ "Mcp-Session-Id": { perUser: true } }).success).toBe(false);
    const six = Object.fromEntries([1, 2, 3, 4, 5, 6].map((i) => [`X-K${i}`, { perUser: true as const }]));
    expect(ServerHeaders.safeParse(six).success).toBe(false);
  });

  it("accepts auth oauth or owner on a server and nothing else", () => {
    expect(CreateServerBody.safeParse({ name: "a", url: "https://x.example/mcp", auth: "oauth" }).success).toBe(true);
    expect(CreateServerBody.safeParse({ name: "a", url: "https://x.example/mcp", auth: "caller" }).success).toBe(false);
  });
});
