/**
 * @module Who may use a preset: public presets anyone; private presets only their owner; invite_only
 * presets their owner and members. `userId` is null for a caller without credentials.
 */
import type { PresetConfig } from "../preset/config";

export type AccessDecision = "allow" | "unauthenticated" | "forbidden";

export function decideAccess(preset: Pick<PresetConfig, "visibility" | "ownerId" | "members">, userId: string | null): AccessDecision {
  if (preset.visibility === "public") return "allow";
  if (userId === null) return "unauthenticated";
  if (userId === preset.ownerId) return "allow";
  if (preset.visibility === "invite_only" && preset.members.includes(userId)) return "allow";
  return "forbidden";
}
