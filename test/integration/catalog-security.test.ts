import { describe, expect, it } from "vitest";
import { givenPreset, unique, upstreamStats, upstreamUrl } from "../helpers";
import { openSession, rpc } from "../mcp-raw";

/**
 * Attacks on what a preset exposes (issue 12): resource template escapes, tool shadowing under
 * plain naming, upstream names no client accepts, and a catalog too big for one storage row.
 */

describe("resource template selection", () => {
  const ESCAPES = [
    "file:///docs/..",
    "file:///docs/.",
    "file:///docs/..%2F..%2Fetc%2Fpasswd",
    "file:///docs/..%2f..%2fetc%2fpasswd",
    "file:///docs/%2e%2e%2F%2e%2e%2Fetc%2Fpasswd",
    "file:///docs/..%252F..%252Fetc%252Fpasswd",
    "file:///docs/a%5C..%5Csecret",
    "file:///docs/a\\..\\secret",
    "file:///docs/a%00.md",
    "file:///docs/%2e%2e",
  ];

  for (const naming of ["plain", "prefixed"] as const) {
    it(`refuses template values that climb out of a selected file:///docs/{name} with invalid params, never asking the upstream (${naming})`, async () => {
      const scope = unique("docs");
      const p = await givenPreset({ naming, servers: [{ name: "docs", url: upstreamUrl("docs", scope), tools: null, resources: ["file:///docs/{name}"] }] });
      const session = await openSession(p.url);
      const exposed = (uri: string) => (naming === "plain" ? uri : `mcpgate://docs/${uri}`);
      const ok = await rpc(session, 1, "resources/read", { uri: exposed("file:///docs/readme.md") });
      expect(ok.result.contents[0].text).toBe("read file:///docs/readme.md");
      let id = 2;
      for (const uri of ESCAPES) {
        const answer = await rpc(session, id++, "resources/read", { uri: exposed(uri) });
        expect(answer.error, uri).toMatchObject({ code: -32602 });
        expect(answer.error.message).toMatch(/params\.uri .*template/);
      }
      const subscribe = await rpc(session, id++, "resources/subscribe", { uri: exposed("file:///docs/..%2Fsecret") });
      expect(subscribe.error).toMatchObject({ code: -32602 });
      // Only the one good read reached the upstream.
      expect((await upstreamStats("docs", scope)).requests["resources/read"]).toBe(1);
    });
  }
});
