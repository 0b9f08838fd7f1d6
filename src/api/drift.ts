/**
 * @module The review of tool pinning (pinning/pin-board.ts): what a preset holds because its
 * upstream changed it or added it, with readable diffs; approving (re-pin and expose) and
 * rejecting (keep the old pin, keep it held, stop alerting about it).
 */
import type { Context } from "hono";
import { getDb } from "../db/client";
import { insertEvent } from "../db/events-repository";
import type { AppEnv } from "../edge/app-env";
import { presetStub } from "../edge/preset-stub";
import type { HeldItem, ItemPick } from "../pinning/pin-board";
import { invalidField, notFound } from "../shared/errors";
import { iso } from "./json-views";
import { findOwnPreset } from "./presets";
import { defineRoute } from "./route";
import { DriftList, DriftReview, DriftReviewBody, SlugParams } from "./schemas";

/** A held item as JSON (definitions and diffs are JSON already: typed loosely here, so Hono does not walk their recursive type). */
const itemJson = (h: HeldItem): Record<string, unknown> => ({ ...h, detectedAt: iso(h.detectedAt)!, rejectedAt: iso(h.rejectedAt) });

/**
 * Approves or rejects held items of a preset of the signed-in user (null picks: all of them), with
 * its audit event, as POST /presets/:slug/drift/{approve,reject} does (the web console too). 404
 * for a stranger's preset; 400 naming `items[i]` when a pick is not held (nothing is changed).
 */
export async function reviewHeld(c: Context<AppEnv>, slug: string, action: "approve" | "reject", picks: ItemPick[] | null): Promise<HeldItem[]> {
  const { preset, handle } = await findOwnPreset(c, slug);
  const reviewed = await presetStub(c.env, handle, preset.slug).reviewDrift({ handle, slug: preset.slug }, action, picks);
  if (!reviewed) throw notFound(`Preset '${slug}'`);
  const result = { items: JSON.parse(reviewed.items) as HeldItem[], unknown: reviewed.unknown };
  const missing = result.unknown[0];
  if (missing && picks) {
    const at = picks.findIndex((p) => p.server === missing.server && p.name === missing.name && p.kind === missing.kind);
    throw invalidField(`items[${at}]`, `${missing.server}/${missing.name} is not held for review on this preset (nothing was changed)`);
  }
  if (result.items.length > 0) {
    const db = getDb(c.env.DB);
    await insertEvent(db, {
      ownerId: preset.ownerId,
      presetId: preset.id,
      actorId: c.get("userId"),
      type: action === "approve" ? "drift.approved" : "drift.rejected",
      target: preset.slug,
      payload: { items: result.items.slice(0, 100).map((h) => ({ server: h.server, kind: h.kind, name: h.name, change: h.change })) },
    }).run();
  }
  return result.items;
}

/** What a preset of the signed-in user holds for review, oldest first, as GET /presets/:slug/drift lists it (the web console too). */
export async function heldItems(c: Context<AppEnv>, slug: string) {
  const { preset, handle } = await findOwnPreset(c, slug);
  const held = await presetStub(c.env, handle, preset.slug).drift({ handle, slug: preset.slug });
  if (held === null) throw notFound(`Preset '${slug}'`);
  return { preset, items: JSON.parse(held) as HeldItem[] };
}

const review = (action: "approve" | "reject") =>
  defineRoute({
    method: "post",
    path: `/presets/:slug/drift/${action}`,
    tag: "Presets",
    summary:
      action === "approve"
        ? "Approve held items: pin their current definitions and expose them again"
        : "Reject held items: keep their old pins, keep them held, stop alerting about these definitions",
    auth: "user",
    params: SlugParams,
    body: DriftReviewBody,
    responses: { 200: { description: action === "approve" ? "Approved" : "Rejected", schema: DriftReview } },
    async handler(c, { params, body }) {
      const items = await reviewHeld(c, params.slug, action, body.items ?? null);
      return c.json({ [action === "approve" ? "approved" : "rejected"]: items.map(itemJson) });
    },
  });

export const driftRoutes = [
  defineRoute({
    method: "get",
    path: "/presets/:slug/drift",
    tag: "Presets",
    summary: "What the preset holds for your review: tools, prompts and templates that changed upstream or are new, with diffs",
    auth: "user",
    params: SlugParams,
    responses: { 200: { description: "Held items, oldest first", schema: DriftList } },
    async handler(c, { params }) {
      const { preset, items } = await heldItems(c, params.slug);
      return c.json({ pinning: preset.pinning, newTools: preset.newTools, items: items.map(itemJson) });
    },
  }),
  review("approve"),
  review("reject"),
];
