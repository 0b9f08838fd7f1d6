import { describe, expect, it } from "vitest";
import { type AccessDecision, decideAccess } from "../../src/policy/access";

const OWNER = "usr_owner";
const MEMBER = "usr_member";
const STRANGER = "usr_stranger";

type Visibility = "public" | "private" | "invite_only";
const preset = (visibility: Visibility) => ({ visibility, ownerId: OWNER, members: [MEMBER] });

const callers: Record<string, string | null> = { anonymous: null, stranger: STRANGER, member: MEMBER, owner: OWNER };

const matrix: [Visibility, keyof typeof callers, AccessDecision][] = [
  ["public", "anonymous", "allow"],
  ["public", "stranger", "allow"],
  ["public", "member", "allow"],
  ["public", "owner", "allow"],
  ["private", "anonymous", "unauthenticated"],
  ["private", "stranger", "forbidden"],
  ["private", "member", "forbidden"],
  ["private", "owner", "allow"],
  ["invite_only", "anonymous", "unauthenticated"],
  ["invite_only", "stranger", "forbidden"],
  ["invite_only", "member", "allow"],
  ["invite_only", "owner", "allow"],
];

describe("decideAccess", () => {
  it.each(matrix)("on a %s preset, answers the %s caller with %s", (visibility, caller, decision) => {
    expect(decideAccess(preset(visibility), callers[caller] ?? null)).toBe(decision);
  });

  it("lets the owner into an invite_only preset without being listed as a member", () => {
    expect(decideAccess({ visibility: "invite_only", ownerId: OWNER, members: [] }, OWNER)).toBe("allow");
  });

  it("does not let a member of a private preset in, even if listed", () => {
    expect(decideAccess({ visibility: "private", ownerId: OWNER, members: [MEMBER, STRANGER] }, STRANGER)).toBe("forbidden");
  });

  it("matches user ids exactly, not by prefix or case", () => {
    const p = preset("invite_only");
    expect(decideAccess(p, "usr_membe")).toBe("forbidden");
    expect(decideAccess(p, "USR_MEMBER")).toBe("forbidden");
    expect(decideAccess(preset("private"), "usr_owner2")).toBe("forbidden");
  });

  it("treats the empty string as a (stranger) user id, not as anonymous", () => {
    expect(decideAccess(preset("private"), "")).toBe("forbidden");
  });
});
