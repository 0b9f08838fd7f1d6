import { describe, expect, it } from "vitest";
import { authServerMetadataUrls, parseBearerChallenge, protectedResourceMetadataUrls, resourceCovers } from "../../../src/credentials/discovery";

describe("discovery URLs", () => {
  it("tries the resource's path-specific metadata before the root", () => {
    expect(protectedResourceMetadataUrls("https://api.example.com/public/mcp")).toEqual([
      "https://api.example.com/.well-known/oauth-protected-resource/public/mcp",
      "https://api.example.com/.well-known/oauth-protected-resource",
    ]);
    expect(protectedResourceMetadataUrls("https://api.example.com/")).toEqual(["https://api.example.com/.well-known/oauth-protected-resource"]);
  });

  it("orders authorization server metadata as MCP 2025-11-25 does: RFC 8414, OIDC insertion, OIDC appending", () => {
    expect(authServerMetadataUrls("https://auth.example.com/tenant1")).toEqual([
      "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
      "https://auth.example.com/.well-known/openid-configuration/tenant1",
      "https://auth.example.com/tenant1/.well-known/openid-configuration",
    ]);
    expect(authServerMetadataUrls("https://auth.example.com")).toEqual([
      "https://auth.example.com/.well-known/oauth-authorization-server",
      "https://auth.example.com/.well-known/openid-configuration",
    ]);
  });
});

describe("parseBearerChallenge", () => {
  it("reads resource_metadata and scope, quoted or not, in any order and case", () => {
    expect(parseBearerChallenge('Bearer error="invalid_token", scope="files:read files:write", resource_metadata="https://x.example/prm"')).toEqual({
      resourceMetadata: "https://x.example/prm",
      scope: "files:read files:write",
    });
    expect(parseBearerChallenge("bearer Resource_Metadata=https://x.example/prm")).toEqual({ resourceMetadata: "https://x.example/prm", scope: null });
  });

  it("ignores other schemes and absent headers", () => {
    expect(parseBearerChallenge('Basic realm="x", resource_metadata="https://x.example/prm"')).toEqual({ resourceMetadata: null, scope: null });
    expect(parseBearerChallenge(null)).toEqual({ resourceMetadata: null, scope: null });
  });
});

describe("resourceCovers", () => {
  it("accepts the upstream URL itself or a path prefix of it on the same origin", () => {
    expect(resourceCovers("https://a.example/mcp", "https://a.example/mcp")).toBe(true);
    expect(resourceCovers("https://a.example/", "https://a.example/mcp")).toBe(true);
  });

  it("refuses another origin, a sibling path, and a longer path", () => {
    expect(resourceCovers("https://b.example/mcp", "https://a.example/mcp")).toBe(false);
    expect(resourceCovers("https://a.example/mcp-other", "https://a.example/mcp")).toBe(false);
    expect(resourceCovers("https://a.example/mcp/deeper", "https://a.example/mcp")).toBe(false);
    expect(resourceCovers("not a url", "https://a.example/mcp")).toBe(false);
  });
});
