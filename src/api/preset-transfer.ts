/**
 * @module Export, import, clone and fork of presets. A copy is independent of what it was copied
 * from: rows are copied once, nothing links them afterwards.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { getDb } from "../db/client";
import { findPreset } from "../db/presets-repository";
import type { AppEnv } from "../edge/app-env";
import { invalidatePresets } from "../edge/preset-stub";
import { conflict, notFound } from "../shared/errors";
import { attachmentsOf, clonePreset, documentOf, importDocument, userIdOf } from "./preset-document";
import { findOwnPreset, presetView } from "./presets";
import { defineRoute } from "./route";
import { SlugParams } from "./schemas";
import { CloneBody, ForkBody, ImportBody, PresetCopy, PresetDocument } from "./transfer-schemas";

const NOT_COPIED = "Members, pins and held items are not copied; a copy never follows later changes of its original.";

/** Creates a preset from a document as POST /presets/import does (the console calls it too). */
export async function importPreset(c: Context<AppEnv>, body: z.output<typeof ImportBody>) {
  const slug = body.slug ?? body.document.preset.slug;
  await assertSlugFree(c, slug);
  const servers = await importDocument(c, body.document, {
    slug,
    name: body.name ?? body.document.preset.name,
    visibility: body.visibility ?? "private",
  });
  return { preset: await freshView(c, slug), servers };
}

/** Copies one of the user's presets under a new slug as POST /presets/:slug/clone does (the console calls it too). */
export async function clonePresetAs(c: Context<AppEnv>, originalSlug: string, body: z.output<typeof CloneBody>) {
  const { preset } = await findOwnPreset(c, originalSlug);
  await assertSlugFree(c, body.slug);
  const servers = await clonePreset(c, preset, {
    slug: body.slug,
    name: body.name ?? preset.name,
    visibility: body.visibility ?? preset.visibility,
    clonedFrom: preset.slug,
  });
  return { preset: await freshView(c, body.slug), servers };
}

/** Copies a public, active preset (or one's own) into the user's account as POST /presets/fork does (the console calls it too); others' non-public presets are 404. */
export async function forkPreset(c: Context<AppEnv>, body: z.output<typeof ForkBody>) {
  const [handle = "", originalSlug = ""] = body.from.split("/");
  const ownerId = await userIdOf(c, handle);
  const found = ownerId ? await findPreset(getDb(c.env.DB), ownerId, originalSlug) : undefined;
  const own = found !== undefined && ownerId === c.get("userId");
  // Others' private, invite-only, disabled and archived presets answer exactly like missing ones.
  if (!found || (!own && (found.preset.visibility !== "public" || found.preset.status !== "active"))) throw notFound(`Public preset '${body.from}'`);
  const slug = body.slug ?? found.preset.slug;
  const name = body.name ?? found.preset.name;
  await assertSlugFree(c, slug);
  const servers = own
    ? await clonePreset(c, found.preset, { slug, name, visibility: body.visibility ?? found.preset.visibility, clonedFrom: found.preset.slug })
    : await importDocument(
        c,
        documentOf(found.preset, await attachmentsOf(c, found.preset.id)),
        {
          slug,
          name,
          visibility: body.visibility ?? "private",
          forkedFrom: body.from,
        },
        "from",
      );
  return { preset: await freshView(c, slug), servers };
}

export const presetTransferRoutes = [
  defineRoute({
    method: "get",
    path: "/presets/:slug/export",
    tag: "Presets",
    summary: "A portable document of one of your presets: settings, servers (URLs and header names) and selections, never a secret",
    auth: "user",
    params: SlugParams,
    responses: { 200: { description: "The document (mcpgate.preset, version 1)", schema: PresetDocument } },
    async handler(c, { params }) {
      const { preset } = await findOwnPreset(c, params.slug);
      return c.json(documentOf(preset, await attachmentsOf(c, preset.id)));
    },
  }),
  defineRoute({
    method: "post",
    path: "/presets/import",
    tag: "Presets",
    summary: `Create a preset from a document, on your own servers (reused by URL) or new ones registered without secrets. ${NOT_COPIED}`,
    auth: "user",
    body: ImportBody,
    responses: { 201: { description: "Imported", schema: PresetCopy }, 409: { description: "Slug taken, or a tool name clash" } },
    async handler(c, { body }) {
      return c.json(await importPreset(c, body), 201);
    },
  }),
  defineRoute({
    method: "post",
    path: "/presets/:slug/clone",
    tag: "Presets",
    summary: `Copy one of your presets under a new slug, on the same servers with the same selections and settings. ${NOT_COPIED}`,
    auth: "user",
    params: SlugParams,
    body: CloneBody,
    responses: { 201: { description: "Cloned", schema: PresetCopy }, 409: { description: "Slug taken" } },
    async handler(c, { params, body }) {
      return c.json(await clonePresetAs(c, params.slug, body), 201);
    },
  }),
  defineRoute({
    method: "post",
    path: "/presets/fork",
    tag: "Presets",
    summary: `Copy another user's public, active preset into your account, on your own servers (reused by URL) or new ones registered without secrets. ${NOT_COPIED}`,
    auth: "user",
    body: ForkBody,
    responses: { 201: { description: "Forked", schema: PresetCopy }, 404: { description: "No such public preset" }, 409: { description: "Slug taken" } },
    async handler(c, { body }) {
      return c.json(await forkPreset(c, body), 201);
    },
  }),
];

async function assertSlugFree(c: Parameters<typeof findOwnPreset>[0], slug: string): Promise<void> {
  if (await findPreset(getDb(c.env.DB), c.get("userId"), slug)) throw conflict(`You already have a preset '${slug}'.`);
}

/** The new preset's view; its Durable Object (reused if a preset of that slug existed before) is told to reload. */
async function freshView(c: Parameters<typeof findOwnPreset>[0], slug: string) {
  const view = await presetView(c, slug);
  await invalidatePresets(c.env, view.owner, [slug]);
  return view;
}
