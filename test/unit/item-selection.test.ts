import { describe, expect, it } from "vitest";
import { selectItems, selectsPrompt, selectsTemplate, selectsUri, uriJudge, uriSelector } from "../../src/items/item-selection";

const prompts = [{ name: "greet" }, { name: "summarize" }, { name: "translate" }];
const resources = [{ uri: "file:///a.md" }, { uri: "file:///docs/b.md" }, { uri: "db://users/7" }, { name: "no uri" }];
const templates = [{ uriTemplate: "file:///docs/{name}" }, { uriTemplate: "db://users/{id}" }];

describe("item selection", () => {
  it("selects everything with a null selection, and nothing with an empty one", () => {
    expect(selectItems("prompts", null, prompts)).toEqual(prompts);
    expect(selectItems("resources", null, resources)).toEqual(resources);
    expect(selectItems("resourceTemplates", null, templates)).toEqual(templates);
    expect(selectItems("prompts", [], prompts)).toEqual([]);
    expect(selectItems("resources", [], resources)).toEqual([]);
    expect(selectItems("resourceTemplates", [], templates)).toEqual([]);
    expect(selectsPrompt(null, "anything")).toBe(true);
    expect(selectsUri(null, "x://y")).toBe(true);
  });

  it("keeps the selected prompts by exact upstream name, in the upstream's order", () => {
    expect(selectItems("prompts", ["translate", "greet", "absent"], prompts)).toEqual([{ name: "greet" }, { name: "translate" }]);
    expect(selectsPrompt(["greet"], "Greet")).toBe(false);
    expect(selectsPrompt(["greet"], "greet")).toBe(true);
  });

  it("keeps the selected resources by exact URI, and those a selected template expands to", () => {
    expect(selectItems("resources", ["file:///a.md"], resources)).toEqual([{ uri: "file:///a.md" }]);
    expect(selectItems("resources", ["file:///docs/{name}"], resources)).toEqual([{ uri: "file:///docs/b.md" }]);
    expect(selectItems("resources", ["db://users/{id}", "file:///a.md"], resources)).toEqual([{ uri: "file:///a.md" }, { uri: "db://users/7" }]);
  });

  it("keeps resource templates only when their exact template string is selected", () => {
    expect(selectItems("resourceTemplates", ["db://users/{id}"], templates)).toEqual([{ uriTemplate: "db://users/{id}" }]);
    expect(selectItems("resourceTemplates", ["db://users/7", "file:///docs/b.md"], templates)).toEqual([]);
    expect(selectsTemplate(["db://users/{id}"], "db://users/{id}")).toBe(true);
    expect(selectsTemplate(["db://users/{id}"], "db://users/{uid}")).toBe(false);
  });

  it("admits URIs that are selected or expand a selected template, and no others", () => {
    const admits = uriSelector(["file:///a.md", "db://users/{id}", "file:///{+path}.txt"]);
    expect(admits("file:///a.md")).toBe(true);
    expect(admits("db://users/42")).toBe(true);
    expect(admits("file:///deep/dir/x.txt")).toBe(true);
    expect(admits("db://users/42/extra")).toBe(false);
    expect(admits("file:///a.mdx")).toBe(false);
    expect(admits("file:///b.md")).toBe(false);
  });

  it("treats a selected URI as literal text, not as a pattern", () => {
    expect(selectsUri(["file:///a.md"], "file:///aXmd")).toBe(false);
    expect(selectsUri(["search?q=x"], "search?q=x")).toBe(true);
    expect(selectsUri(["search?q=x"], "searchq=x")).toBe(false);
  });
});

describe("uriJudge", () => {
  it("tells a safe expansion of a selected template from one that climbs out of it", () => {
    const judge = uriJudge(["file:///docs/{name}", "file:///docs/exact.md"]);
    expect(judge("file:///docs/readme.md")).toBe("selected");
    expect(judge("file:///docs/..%2F..%2Fetc%2Fpasswd")).toBe("unsafe");
    expect(judge("file:///docs/..")).toBe("unsafe");
    expect(judge("file:///etc/passwd")).toBe("unselected");
    expect(uriJudge(null)("file:///docs/..")).toBe("selected"); // everything selected: nothing to escape from
    expect(selectsUri(["file:///docs/{name}"], "file:///docs/..")).toBe(false);
  });
});
