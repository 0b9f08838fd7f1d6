import { describe, expect, it } from "vitest";
import { keptCapabilities } from "../../src/mcp/client-capabilities";
import {
  capabilityProfile,
  declaredCapabilities,
  GATEWAY_CALLER,
  gatewayCallerLike,
  outlivesRequest,
  sessionKey,
  type UpstreamCaller,
} from "../../src/upstream/session-scope";

const caller = (sessionId: string, userId: string | null, capabilities: Record<string, unknown> = {}, ephemeral = false): UpstreamCaller => ({
  sessionId,
  userId,
  capabilities: keptCapabilities(capabilities),
  ...(ephemeral ? { ephemeral: true } : {}),
});

describe("capability profiles", () => {
  it("names each relayed capability by one letter in a fixed order, and none as -", () => {
    expect(capabilityProfile({})).toBe("-");
    expect(capabilityProfile(keptCapabilities({ sampling: {} }))).toBe("s");
    expect(capabilityProfile(keptCapabilities({ roots: { listChanged: true }, sampling: {}, elicitation: { url: {}, form: {} } }))).toBe("sfurl");
    // Elicitation without modes is form mode (2025-11-25).
    expect(capabilityProfile(keptCapabilities({ elicitation: {} }))).toBe("f");
    expect(capabilityProfile(keptCapabilities({ elicitation: { url: {} } }))).toBe("u");
    expect(capabilityProfile(keptCapabilities({ roots: {} }))).toBe("r");
  });

  it("declares upstream exactly what a profile stands for, and nothing for none", () => {
    expect(declaredCapabilities("-")).toEqual({});
    expect(declaredCapabilities("s")).toEqual({ sampling: {} });
    expect(declaredCapabilities("fu")).toEqual({ elicitation: { form: {}, url: {} } });
    expect(declaredCapabilities("u")).toEqual({ elicitation: { url: {} } });
    expect(declaredCapabilities("rl")).toEqual({ roots: { listChanged: true } });
    for (const declared of [
      {},
      { sampling: {} },
      { elicitation: { url: {} } },
      { roots: {} },
      { sampling: {}, elicitation: {}, roots: { listChanged: true } },
    ]) {
      const profile = capabilityProfile(keptCapabilities(declared));
      expect(capabilityProfile(declaredCapabilities(profile))).toBe(profile);
    }
  });
});

describe("session keys", () => {
  const alice = caller("s1", "u_alice");
  const aliceAgain = caller("s2", "u_alice");
  const bob = caller("s3", "u_bob");
  const anonymous = caller("s4", null);
  const anonymousToo = caller("s5", null);

  it("shares one session under shared, per client profile", () => {
    expect(sessionKey("shared", alice, false)).toBe(sessionKey("shared", bob, false));
    expect(sessionKey("shared", anonymous, false)).toBe(sessionKey("shared", alice, false));
    expect(sessionKey("shared", caller("s6", null, { sampling: {} }), false)).not.toBe(sessionKey("shared", anonymous, false));
  });

  it("gives a user one session under per-caller, and each anonymous client session its own", () => {
    expect(sessionKey("per-caller", alice, false)).toBe(sessionKey("per-caller", aliceAgain, false));
    expect(sessionKey("per-caller", alice, false)).not.toBe(sessionKey("per-caller", bob, false));
    expect(sessionKey("per-caller", anonymous, false)).not.toBe(sessionKey("per-caller", anonymousToo, false));
    // The same user with another capability profile: another session.
    expect(sessionKey("per-caller", caller("s7", "u_alice", { roots: {} }), false)).not.toBe(sessionKey("per-caller", alice, false));
  });

  it("gives every client session its own under per-session, even one user's", () => {
    expect(sessionKey("per-session", alice, false)).not.toBe(sessionKey("per-session", aliceAgain, false));
  });

  it("never shares a server that needs each caller's own credentials between users, whatever its scope", () => {
    expect(sessionKey("shared", alice, true)).not.toBe(sessionKey("shared", bob, true));
    expect(sessionKey("shared", alice, true)).toBe(sessionKey("shared", aliceAgain, true));
  });

  it("keeps the gateway's own session apart from every client's, except where every client shares one", () => {
    const gateway = gatewayCallerLike(anonymous);
    expect(sessionKey("per-caller", gateway, false)).not.toBe(sessionKey("per-caller", anonymous, false));
    expect(sessionKey("shared", gateway, false)).toBe(sessionKey("shared", anonymous, false));
    expect(sessionKey("per-caller", GATEWAY_CALLER, false)).toBe("gateway|sfurl");
  });

  it("lets a modern request's own session end with it only where nobody else shares it", () => {
    const modernAnonymous = caller("m-1", null, {}, true);
    const modernUser = caller("m-2", "u_alice", {}, true);
    expect(outlivesRequest("per-caller", modernAnonymous, false)).toBe(false);
    expect(outlivesRequest("per-session", modernUser, false)).toBe(false);
    expect(outlivesRequest("per-caller", modernUser, false)).toBe(true);
    expect(outlivesRequest("shared", modernAnonymous, false)).toBe(true);
    expect(outlivesRequest("per-session", alice, false)).toBe(true);
  });
});
