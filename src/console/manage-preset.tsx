/**
 * @module The console's preset settings pages: edit the settings, delete with a confirmation step,
 * invite and remove members, revoke OAuth grants, clone, and export as a download. Each goes
 * through the API's own functions (same validation, audit events and invalidation). Import and
 * fork: manage-transfer.tsx.
 *
 * Routes (under /console): GET|POST /presets/:slug/settings; GET|POST /presets/:slug/delete;
 * POST /presets/:slug/members; POST /presets/:slug/members/:handle/remove;
 * POST /presets/:slug/grants/:id/revoke; POST /presets/:slug/clone; GET /presets/:slug/export.
 */

import { presetGrants, revokePresetGrant } from "../api/grants";
import { addMember, removeMember } from "../api/members";
import { attachmentsOf, documentOf } from "../api/preset-document";
import { clonePresetAs } from "../api/preset-transfer";
import { deletePreset, findOwnPreset, updatePreset } from "../api/presets";
import { AddMemberBody, UpdatePresetBody } from "../api/schemas";
import { CloneBody } from "../api/transfer-schemas";
import { getDb } from "../db/client";
import { listMembers } from "../db/presets-repository";
import { ApiError } from "../shared/errors";
import { apiErrorToErrors, type ConsoleContext, type ConsoleKit, type ConsolePages, Csrf, FormAlert, issuesToErrors } from "./console-kit";
import { Field, type FieldErrors } from "./field";
import { Layout } from "./layout";
import { MessagePage, type SignedIn } from "./pages";

type PresetRow = Awaited<ReturnType<typeof findOwnPreset>>["preset"];
type Values = Record<string, string>;
export const VISIBILITIES = ["private", "public", "invite_only"] as const;
const SLUG = /^[a-z0-9-]{1,50}$/;

export function Select(props: { attrs: Record<string, string | undefined>; value: string; options: readonly string[] }) {
  return (
    <select {...props.attrs}>
      {props.options.map((o) => (
        <option value={o} selected={props.value === o}>
          {o.replace("_", " ")}
        </option>
      ))}
    </select>
  );
}

function settingsValues(p: PresetRow): Values {
  return {
    name: p.name,
    description: p.description ?? "",
    visibility: p.visibility,
    status: p.status,
    requests: p.rateLimit ? String(p.rateLimit.requests) : "",
    windowSeconds: p.rateLimit ? String(p.rateLimit.windowSeconds) : "",
    toolNaming: p.toolNaming,
    pinning: p.pinning,
    newTools: p.newTools,
    auditCalls: p.auditCalls ? "on" : "",
    auditArguments: p.auditArguments ? "on" : "",
  };
}

export interface SettingsProps {
  user: SignedIn;
  slug: string;
  values: Values;
  errors: FieldErrors;
  members: { handle: string }[];
  grants: Awaited<ReturnType<typeof presetGrants>>;
  memberErrors?: FieldErrors;
  cloneValues?: Values;
  cloneErrors?: FieldErrors;
  notice?: string;
}

export function SettingsPage(props: SettingsProps) {
  const v = props.values;
  const base = `/console/presets/${props.slug}`;
  const memberErrors = props.memberErrors ?? {};
  const cloneErrors = props.cloneErrors ?? {};
  return (
    <Layout title={`Settings of ${props.slug}`} user={props.user}>
      <p>
        <a href={base}>{`Back to ${props.slug}`}</a>
      </p>
      <h1>{`Settings of ${props.slug}`}</h1>
      {props.notice ? (
        <p class="muted" role="status">
          {props.notice}
        </p>
      ) : null}
      <form class="stack" method="post" action={`${base}/settings`} novalidate>
        <Csrf user={props.user} />
        <FormAlert errors={props.errors} what="The settings were not saved" />
        <Field id="name" label="Name" errors={props.errors}>
          {(a) => <input {...a} type="text" value={v.name} required autocomplete="off" />}
        </Field>
        <Field id="description" label="Description" hint="Optional; at most 2000 characters." errors={props.errors}>
          {(a) => (
            <textarea {...a} rows={3}>
              {v.description}
            </textarea>
          )}
        </Field>
        <Field id="visibility" label="Visibility" hint="Public: anyone with the URL. Private: only you. Invite only: you and members." errors={props.errors}>
          {(a) => <Select attrs={a} value={v.visibility ?? ""} options={VISIBILITIES} />}
        </Field>
        <Field id="status" label="Status" hint="Disabled and archived presets answer 404 to MCP clients." errors={props.errors}>
          {(a) => <Select attrs={a} value={v.status ?? ""} options={["active", "disabled", "archived"]} />}
        </Field>
        <Field
          id="requests"
          label="Rate limit: calls"
          hint="At most this many tools/call per caller in the window; blank with the window: the default."
          errors={props.errors}
        >
          {(a) => <input {...a} type="text" inputmode="numeric" value={v.requests} autocomplete="off" />}
        </Field>
        <Field id="windowSeconds" label="Rate limit: window (seconds)" hint="1–86400." errors={props.errors}>
          {(a) => <input {...a} type="text" inputmode="numeric" value={v.windowSeconds} autocomplete="off" />}
        </Field>
        <Field id="toolNaming" label="Tool naming" hint="prefixed: server__tool; plain: upstream names (clashes are refused)." errors={props.errors}>
          {(a) => <Select attrs={a} value={v.toolNaming ?? ""} options={["prefixed", "plain"]} />}
        </Field>
        <Field id="pinning" label="Pinning" hint="on: changed tool definitions are held for review; off only for upstreams you control." errors={props.errors}>
          {(a) => <Select attrs={a} value={v.pinning ?? ""} options={["on", "off"]} />}
        </Field>
        <Field id="newTools" label="New tools" hint="With pinning on: hold new tools for review, or expose them." errors={props.errors}>
          {(a) => <Select attrs={a} value={v.newTools ?? ""} options={["hold", "expose"]} />}
        </Field>
        <fieldset id="audit">
          <legend>Call log</legend>
          <input type="hidden" name="audit" value="1" />
          <p>
            <input type="checkbox" id="auditCalls" name="auditCalls" checked={v.auditCalls === "on"} aria-describedby="auditCalls-hint" />
            <label for="auditCalls" class="inline">
              Log every tool call
            </label>
            <span class="hint" id="auditCalls-hint">
              Who called which tool, when, the outcome, the latency and the arguments' SHA-256 (Watch, call log).
            </span>
          </p>
          <p>
            <input type="checkbox" id="auditArguments" name="auditArguments" checked={v.auditArguments === "on"} aria-describedby="auditArguments-hint" />
            <label for="auditArguments" class="inline">
              Also log the arguments
            </label>
            <span class="hint" id="auditArguments-hint">
              Cut to 8192 characters; only with the call log on. Arguments may contain secrets.
            </span>
          </p>
          {props.errors.auditArguments ? <p class="field-error">{props.errors.auditArguments}</p> : null}
        </fieldset>
        <div>
          <button type="submit" class="primary">
            Save settings
          </button>
        </div>
      </form>

      <h2 id="members-heading">Members</h2>
      <p class="muted">
        {v.visibility === "invite_only"
          ? "Members may connect to this preset with their own tokens."
          : "Members only matter while the visibility is invite only."}
      </p>
      {props.members.length === 0 ? (
        <p>No members.</p>
      ) : (
        <ul class="plain" aria-labelledby="members-heading">
          {props.members.map((m) => (
            <li class="row">
              <span>{m.handle}</span>
              <form method="post" action={`${base}/members/${m.handle}/remove`}>
                <Csrf user={props.user} />
                <button type="submit" class="link" aria-label={`Remove member ${m.handle}`}>
                  Remove
                </button>
              </form>
            </li>
          ))}
        </ul>
      )}
      <form class="stack" method="post" action={`${base}/members`} novalidate>
        <Csrf user={props.user} />
        <FormAlert errors={memberErrors} what="Nobody was invited" />
        <Field id="handle" label="Invite by handle" hint="The user's handle on this gateway." errors={memberErrors}>
          {(a) => <input {...a} type="text" value="" autocomplete="off" spellcheck={false} />}
        </Field>
        <div>
          <button type="submit">Invite member</button>
        </div>
      </form>

      <h2 id="grants-heading">OAuth grants</h2>
      {props.grants.length === 0 ? (
        <p>No MCP client was authorized on this preset through OAuth.</p>
      ) : (
        <div class="table-wrap">
          <table aria-labelledby="grants-heading">
            <thead>
              <tr>
                <th scope="col">Client</th>
                <th scope="col">User</th>
                <th scope="col">Granted (UTC)</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {props.grants.map((g) => (
                <tr>
                  <th scope="row">{g.client.name ?? g.client.id}</th>
                  <td>{g.user.handle}</td>
                  <td>{g.createdAt.slice(0, 16).replace("T", " ")}</td>
                  <td>
                    {g.revokedAt ? (
                      `revoked (${g.revokedReason ?? "revoked"})`
                    ) : (
                      <form method="post" action={`${base}/grants/${g.id}/revoke`}>
                        <Csrf user={props.user} />
                        <button type="submit" class="link" aria-label={`Revoke the grant of ${g.user.handle} to ${g.client.name ?? g.client.id}`}>
                          Revoke
                        </button>
                      </form>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2>Clone and export</h2>
      <form class="stack" method="post" action={`${base}/clone`} novalidate>
        <Csrf user={props.user} />
        <FormAlert errors={cloneErrors} what="The preset was not cloned" />
        <Field id="clone-slug" label="Slug of the copy" hint="Same servers, selections and settings; members and pins are not copied." errors={cloneErrors}>
          {(a) => <input {...a} name="slug" type="text" value={props.cloneValues?.slug ?? ""} autocomplete="off" spellcheck={false} />}
        </Field>
        <div>
          <button type="submit">Clone preset</button>
        </div>
      </form>
      <p>
        <a href={`${base}/export`} download={`${props.slug}.mcpgate.json`}>
          Export as a document (JSON, no secrets)
        </a>
      </p>

      <h2>Delete</h2>
      <p>
        <a class="button danger" href={`${base}/delete`}>
          Delete this preset
        </a>
      </p>
    </Layout>
  );
}

function DeletePresetPage(props: { user: SignedIn; slug: string }) {
  return (
    <Layout title={`Delete preset ${props.slug}`} user={props.user}>
      <h1>{`Delete preset ${props.slug}?`}</h1>
      <p>Its URL stops answering at once; members lose access. Its servers stay. This cannot be undone.</p>
      <form method="post" action={`/console/presets/${props.slug}/delete`} class="row">
        <Csrf user={props.user} />
        <button type="submit" class="danger">
          Delete preset
        </button>
        <a href={`/console/presets/${props.slug}/settings`}>Cancel</a>
      </form>
    </Layout>
  );
}

/** The changes of a settings form against the stored preset: only fields that differ, so the audit event names what changed. */
function settingsChanges(body: Values, current: PresetRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const was = settingsValues(current);
  for (const k of ["name", "visibility", "status", "toolNaming", "pinning", "newTools"] as const) if ((body[k] ?? "") !== was[k]) out[k] = body[k] ?? "";
  const description = body.description ?? "";
  if (description !== was.description) out.description = description === "" ? null : description;
  // The checkboxes count only when the form carried them (the hidden `audit` marker): an unchecked box sends nothing.
  if (body.audit === "1") for (const k of ["auditCalls", "auditArguments"] as const) if ((body[k] === "on") !== (was[k] === "on")) out[k] = body[k] === "on";
  const requests = (body.requests ?? "").trim();
  const windowSeconds = (body.windowSeconds ?? "").trim();
  if ((requests || windowSeconds) && (requests !== was.requests || windowSeconds !== was.windowSeconds))
    out.rateLimit = { requests: requests === "" ? Number.NaN : Number(requests), windowSeconds: windowSeconds === "" ? Number.NaN : Number(windowSeconds) };
  return out;
}

/** Registers the preset settings, members, transfer pages on the console's authenticated pages app. */
export function mountPresetPages(pages: ConsolePages, kit: ConsoleKit): void {
  const own = async (c: ConsoleContext) => {
    const slug = c.req.param("slug") ?? "";
    if (!SLUG.test(slug)) return undefined;
    try {
      return await findOwnPreset(kit.asApp(c), slug);
    } catch {
      return undefined;
    }
  };
  const notFoundPage = (c: ConsoleContext, what: string) => kit.render(c, <MessagePage title="Not found" message={what} user={kit.signedIn(c)} />, 404);
  const settings = async (c: ConsoleContext, preset: PresetRow, extra: Partial<SettingsProps> = {}, status: 200 | 400 | 404 | 409 = 200) => {
    const members = await listMembers(getDb(c.env.DB), preset.id);
    const grants = await presetGrants(kit.asApp(c), preset.slug);
    return kit.render(
      c,
      <SettingsPage user={kit.signedIn(c)} slug={preset.slug} values={settingsValues(preset)} errors={{}} members={members} grants={grants} {...extra} />,
      status,
    );
  };
  const NOTICES: Record<string, string> = { saved: "Settings saved.", invited: "Member invited.", removed: "Member removed.", revoked: "Grant revoked." };

  pages.get("/presets/:slug/settings", async (c) => {
    const found = await own(c);
    if (!found) return notFoundPage(c, `You have no preset '${c.req.param("slug")}'.`);
    return settings(c, found.preset, { notice: NOTICES[c.req.query("done") ?? ""] });
  });
  pages.post("/presets/:slug/settings", async (c) => {
    const found = await own(c);
    if (!found) return notFoundPage(c, `You have no preset '${c.req.param("slug")}'.`);
    const body = await kit.form(c);
    const changes = settingsChanges(body, found.preset);
    const boxes: Values = body.audit === "1" ? { auditCalls: body.auditCalls ?? "", auditArguments: body.auditArguments ?? "" } : {};
    const values = { ...settingsValues(found.preset), ...body, ...boxes };
    if (Object.keys(changes).length === 0) return c.redirect(`/console/presets/${found.preset.slug}/settings?done=saved`, 303);
    const parsed = UpdatePresetBody.safeParse(changes);
    if (!parsed.success) {
      const errors = issuesToErrors(parsed.error, (p) => (p[0] === "rateLimit" ? String(p[1] ?? "requests") : String(p[0] ?? "form")));
      return settings(c, found.preset, { values, errors }, 400);
    }
    try {
      await updatePreset(kit.asApp(c), found.preset.slug, parsed.data);
    } catch (e) {
      const explained = apiErrorToErrors(e);
      if (!explained) throw e;
      return settings(c, found.preset, { values, errors: explained.errors }, explained.status);
    }
    return c.redirect(`/console/presets/${found.preset.slug}/settings?done=saved`, 303);
  });
  pages.get("/presets/:slug/delete", async (c) => {
    const found = await own(c);
    if (!found) return notFoundPage(c, `You have no preset '${c.req.param("slug")}'.`);
    return kit.render(c, <DeletePresetPage user={kit.signedIn(c)} slug={found.preset.slug} />);
  });
  pages.post("/presets/:slug/delete", async (c) => {
    const found = await own(c);
    if (!found) return notFoundPage(c, `You have no preset '${c.req.param("slug")}'.`);
    await deletePreset(kit.asApp(c), found.preset.slug);
    return c.redirect("/console", 303);
  });
  pages.post("/presets/:slug/members", async (c) => {
    const found = await own(c);
    if (!found) return notFoundPage(c, `You have no preset '${c.req.param("slug")}'.`);
    const parsed = AddMemberBody.safeParse({ handle: ((await kit.form(c)).handle ?? "").trim() });
    if (!parsed.success) return settings(c, found.preset, { memberErrors: issuesToErrors(parsed.error) }, 400);
    try {
      await addMember(kit.asApp(c), found.preset.slug, parsed.data.handle);
    } catch (e) {
      const explained =
        apiErrorToErrors(e, "handle") ?? (e instanceof ApiError && e.status === 404 ? { errors: { handle: e.message }, status: 404 as const } : undefined);
      if (!explained) throw e;
      return settings(c, found.preset, { memberErrors: { handle: explained.errors.handle ?? Object.values(explained.errors)[0] ?? "" } }, explained.status);
    }
    return c.redirect(`/console/presets/${found.preset.slug}/settings?done=invited`, 303);
  });
  pages.post("/presets/:slug/members/:handle/remove", async (c) => {
    const found = await own(c);
    if (!found) return notFoundPage(c, `You have no preset '${c.req.param("slug")}'.`);
    try {
      await removeMember(kit.asApp(c), found.preset.slug, c.req.param("handle"));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return notFoundPage(c, e.message);
      throw e;
    }
    return c.redirect(`/console/presets/${found.preset.slug}/settings?done=removed`, 303);
  });
  pages.post("/presets/:slug/grants/:id/revoke", async (c) => {
    const found = await own(c);
    if (!found) return notFoundPage(c, `You have no preset '${c.req.param("slug")}'.`);
    try {
      await revokePresetGrant(kit.asApp(c), found.preset.slug, c.req.param("id").slice(0, 64));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return notFoundPage(c, e.message);
      throw e;
    }
    return c.redirect(`/console/presets/${found.preset.slug}/settings?done=revoked`, 303);
  });
  pages.post("/presets/:slug/clone", async (c) => {
    const found = await own(c);
    if (!found) return notFoundPage(c, `You have no preset '${c.req.param("slug")}'.`);
    const cloneValues = { slug: ((await kit.form(c)).slug ?? "").trim() };
    const parsed = CloneBody.safeParse(cloneValues);
    const fieldOf = (p: PropertyKey[]) => (p[0] === "slug" ? "clone-slug" : String(p[0] ?? "form"));
    if (!parsed.success) return settings(c, found.preset, { cloneValues, cloneErrors: issuesToErrors(parsed.error, fieldOf) }, 400);
    try {
      await clonePresetAs(kit.asApp(c), found.preset.slug, parsed.data);
    } catch (e) {
      const explained = apiErrorToErrors(e, "clone-slug");
      if (!explained) throw e;
      return settings(c, found.preset, { cloneValues, cloneErrors: { "clone-slug": Object.values(explained.errors)[0] ?? "" } }, explained.status);
    }
    return c.redirect(`/console/presets/${parsed.data.slug}?created=1`, 303);
  });
  pages.get("/presets/:slug/export", async (c) => {
    const found = await own(c);
    if (!found) return notFoundPage(c, `You have no preset '${c.req.param("slug")}'.`);
    const doc = documentOf(found.preset, await attachmentsOf(kit.asApp(c), found.preset.id));
    return c.body(JSON.stringify(doc, null, 2), 200, {
      "content-type": "application/json; charset=utf-8",
      "content-disposition": `attachment; filename="${found.preset.slug}.mcpgate.json"`,
    });
  });
}
