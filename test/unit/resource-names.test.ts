import { describe, expect, it } from "vitest";
import { expansionOf, exposeUri, mapResultUris, matchesTemplate, parsePrefixedUri, templatePattern, unsafeTemplateValue } from "../../src/items/resource-names";

describe("resource names", () => {
  it("keeps URIs with plain naming and wraps them with their server otherwise, reversibly", () => {
    expect(exposeUri("docs", "plain", "file:///a.md")).toBe("file:///a.md");
    const exposed = exposeUri("docs", "prefixed", "file:///a.md");
    expect(exposed).toBe("mcpgate://docs/file:///a.md");
    expect(() => new URL(exposed)).not.toThrow();
    expect(parsePrefixedUri(exposed)).toEqual({ server: "docs", uri: "file:///a.md" });
    expect(parsePrefixedUri("file:///a.md")).toBeNull();
    expect(parsePrefixedUri("mcpgate://nouri")).toBeNull();
  });

  it("matches URIs against RFC 6570 templates by their operators", () => {
    expect(matchesTemplate("test://template/{id}/data", "test://template/42/data")).toBe(true);
    expect(matchesTemplate("test://template/{id}/data", "test://template/4/2/data")).toBe(false);
    expect(matchesTemplate("test://template/{id}/data", "test://other/42/data")).toBe(false);
    expect(matchesTemplate("file:///{+path}", "file:///a/b/c.md")).toBe(true);
    expect(matchesTemplate("users{/id}", "users/7")).toBe(true);
    expect(matchesTemplate("search{?q,limit}", "search?q=x&limit=3")).toBe(true);
    expect(matchesTemplate("a.b/{x}", "aXb/1")).toBe(false); // literals are literal
  });

  it("maps the URIs of read contents, resource links and embedded resources, and nothing else", () => {
    const link = { type: "resource_link", uri: "file:///a", name: "a" };
    const embedded = { type: "resource", resource: { uri: "x://y", mimeType: "text/plain", text: "uri" } };
    const tool = { content: [link, embedded, { type: "text", text: "file:///a" }], structuredContent: { uri: "file:///a" }, _meta: { uri: "keep" } };
    expect(mapResultUris(tool, (u) => `P:${u}`)).toEqual({
      content: [
        { ...link, uri: "P:file:///a" },
        { ...embedded, resource: { ...embedded.resource, uri: "P:x://y" } },
        { type: "text", text: "file:///a" },
      ],
      structuredContent: { uri: "file:///a" },
      _meta: { uri: "keep" },
    });
    expect(mapResultUris({ contents: [{ uri: "file:///a", text: "uri" }] }, (u) => `P:${u}`)).toEqual({ contents: [{ uri: "P:file:///a", text: "uri" }] });
    const prompt = {
      messages: [
        { role: "user", content: embedded },
        { role: "user", content: [link] },
      ],
    };
    expect(mapResultUris(prompt, (u) => `P:${u}`).messages).toEqual([
      { role: "user", content: { ...embedded, resource: { ...embedded.resource, uri: "P:x://y" } } },
      { role: "user", content: [{ ...link, uri: "P:file:///a" }] },
    ]);
  });
});

describe("template variable values", () => {
  it("refuses dot segments, encoded separators (any case, double-encoded), backslashes and control characters", () => {
    for (const bad of [
      "..",
      ".",
      "..%2F..%2Fetc%2Fpasswd",
      "a%2fb",
      "a%5Cb",
      "a%5cb",
      "..%252F",
      "%252e%252e",
      "%2e%2e",
      "a\\b",
      "a\u0000b",
      "a%0Ab",
      "x/../y",
      "x/./y",
    ]) {
      expect(unsafeTemplateValue(bad), bad).not.toBeNull();
    }
    for (const good of ["readme.md", "a..b", ".hidden", "deep/dir/x", "caf%C3%A9", "100%", "a%20b"]) expect(unsafeTemplateValue(good), good).toBeNull();
  });

  it("checks each variable of a template match, and nothing outside them", () => {
    const docs = templatePattern("file:///docs/{name}");
    expect(expansionOf(docs, "file:///docs/readme.md")).toEqual({ match: true, unsafe: null });
    expect(expansionOf(docs, "file:///docs/..")).toMatchObject({ match: true, unsafe: expect.stringContaining("segment") });
    expect(expansionOf(docs, "file:///other/x")).toEqual({ match: false });
    const deep = templatePattern("file:///{+path}.txt");
    expect(expansionOf(deep, "file:///a/b/c.txt")).toEqual({ match: true, unsafe: null });
    expect(expansionOf(deep, "file:///a/../../c.txt").match && expansionOf(deep, "file:///a/../../c.txt")).toMatchObject({ unsafe: expect.any(String) });
  });
});
