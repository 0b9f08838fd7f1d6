/**
 * @module Curation in the console: attaching and detaching servers on the preset page, and one page
 * per attached server (/console/presets/:slug/servers/:name) listing the upstream's live tools with
 * a checkbox, the exposed name, the description, annotation badges and rename/description inputs,
 * then its prompts and resources (curation-items.tsx). One form saves selections and overrides together through the API's attachServer. Works without
 * JS; the console script (assets.ts) adds search, bulk selection on the filtered rows, live exposed
 * names and duplicate flags.
 */
import type { ItemOverride, ToolNaming } from "../tools/catalog";
import { exposedNameIn } from "../tools/catalog";
import type { Tool } from "../upstream/client";
import { CurationItems, type ItemSelection, type ShownItems } from "./curation-items";
import { Layout } from "./layout";
import type { SignedIn } from "./pages";

/** The selection and overrides a curation form asks for. */
export interface Curation {
  tools: string[] | null;
  overrides: Record<string, ItemOverride> | null;
}

/**
 * What a submitted curation form asks for. Fields: `all` ("All tools, including future ones"),
 * `sel:<tool>` (checked), `rn:<tool>` (rename), `ds:<tool>` (description). Only the tools listed
 * now were on the page: selected names and overrides of tools the upstream does not list now are
 * kept as they are.
 */
export function curationFromForm(fields: Record<string, string>, listed: readonly string[], current: Curation): Curation {
  const shown = new Set(listed);
  const tools = fields.all === "on" ? null : [...listed.filter((n) => fields[`sel:${n}`] !== undefined), ...(current.tools ?? []).filter((n) => !shown.has(n))];
  const overrides: Record<string, ItemOverride> = {};
  for (const [n, o] of Object.entries(current.overrides ?? {})) if (!shown.has(n)) overrides[n] = o;
  for (const n of listed) {
    const name = (fields[`rn:${n}`] ?? "").trim();
    const description = (fields[`ds:${n}`] ?? "").trim();
    if (name || description) overrides[n] = { ...(name ? { name } : {}), ...(description ? { description } : {}) };
  }
  const empty = Object.keys(overrides).length === 0;
  return { tools, overrides: empty ? (current.overrides && Object.keys(current.overrides).length === 0 ? current.overrides : null) : overrides };
}

export function AttachedServers(props: { slug: string; csrf: string; attached: string[]; available: string[] }) {
  const base = `/console/presets/${props.slug}/servers`;
  return (
    <section aria-labelledby="servers-heading">
      <h2 id="servers-heading">Servers and tools</h2>
      <p>
        <a href={`/console/presets/${props.slug}/drift`}>Review changes held by tool pinning</a>
      </p>
      {props.attached.length === 0 ? <p>No servers attached yet.</p> : null}
      <ul class="attached">
        {props.attached.map((name) => (
          <li class="row">
            <a href={`${base}/${name}`}>{`Choose tools of ${name}`}</a>
            <a href={`${base}/${name}/detach`} aria-label={`Detach ${name}`}>
              Detach…
            </a>
          </li>
        ))}
      </ul>
      {props.available.length ? (
        <form method="post" action={base} class="row attach">
          <input type="hidden" name="csrf" value={props.csrf} />
          <label for="attach-server">Server to attach</label>
          <select id="attach-server" name="server">
            {props.available.map((n) => (
              <option value={n}>{n}</option>
            ))}
          </select>
          <button type="submit">Attach</button>
        </form>
      ) : (
        <p class="muted">All your registered servers are attached to this preset.</p>
      )}
    </section>
  );
}

export function DetachPage(props: { user: SignedIn; slug: string; server: string }) {
  const back = `/console/presets/${props.slug}`;
  return (
    <Layout title={`Detach ${props.server}`} user={props.user}>
      <h1>{`Detach ${props.server} from ${props.slug}?`}</h1>
      <p>Its tools, prompts and resources leave the preset at once; its selection and overrides are forgotten.</p>
      <form method="post" action={`${back}/servers/${props.server}/detach`} class="row">
        <input type="hidden" name="csrf" value={props.user.csrf} />
        <button type="submit" class="primary">{`Detach ${props.server}`}</button>
        <a href={back}>Cancel</a>
      </form>
    </Layout>
  );
}

const BADGES = [
  ["readOnlyHint", "read-only"],
  ["destructiveHint", "destructive"],
  ["idempotentHint", "idempotent"],
  ["openWorldHint", "open-world"],
] as const;

/** The annotation badges a tool earns (a hint set to true). */
function badgesOf(tool: Tool): string[] {
  const a = (tool.annotations ?? {}) as Record<string, unknown>;
  return BADGES.filter(([k]) => a[k] === true).map(([, label]) => label);
}

/** A tool's annotation badges (read-only, destructive, …), or nothing when it has none. */
export function AnnotationBadges(props: { tool: Tool }) {
  const badges = badgesOf(props.tool);
  if (badges.length === 0) return null;
  return (
    <ul class="badges" aria-label="Annotations">
      {badges.map((b) => (
        <li class={`badge ${b}`}>{b}</li>
      ))}
    </ul>
  );
}

export interface CurationProps {
  user: SignedIn;
  preset: { slug: string; name: string; toolNaming: ToolNaming };
  server: string;
  /** The upstream's live tools, or why they cannot be listed. */
  tools: Tool[] | { error: string };
  /** The upstream's live prompts and resources, or why they cannot be listed. */
  items: ShownItems | { error: string };
  /** What the form shows: the saved state, or what was just submitted. */
  state: Curation & ItemSelection;
  /** Per upstream tool name: a validation error or a clash. */
  errors: Record<string, string>;
  formError?: string;
  saved?: boolean;
}

export function CurationPage(props: CurationProps) {
  const { preset, server, state } = props;
  const src = { server, naming: preset.toolNaming, overrides: state.overrides };
  const selected = state.tools ? new Set(state.tools) : null;
  const action = `/console/presets/${preset.slug}/servers/${server}`;
  return (
    <Layout title={`${server} on ${preset.name}`} user={props.user}>
      <p>
        <a href={`/console/presets/${preset.slug}`}>{`← ${preset.name}`}</a>
      </p>
      <h1>{`Tools of ${server}`}</h1>
      {props.saved ? (
        <p role="status" class="ok-note">
          Saved.
        </p>
      ) : null}
      {props.formError ? (
        <p class="alert" role="alert">
          {props.formError}
        </p>
      ) : null}
      {"error" in props.tools ? (
        <p class="alert" role="alert">{`The upstream cannot be listed right now: ${props.tools.error} Its selection is unchanged; try again later.`}</p>
      ) : (
        <form method="post" action={action} id="curation" data-prefix={preset.toolNaming === "plain" ? "" : `${server}__`}>
          <input type="hidden" name="csrf" value={props.user.csrf} />
          <fieldset>
            <legend>{`${server}: ${props.tools.length} tools`}</legend>
            <p>
              <input type="checkbox" id="all-tools" name="all" checked={selected === null} aria-describedby="all-hint" />
              <label for="all-tools" class="inline">
                All tools, including future ones
              </label>
              <span class="hint" id="all-hint">
                When checked, the boxes below are ignored and tools the upstream adds later are exposed too (subject to pinning).
              </span>
            </p>
            <div class="row tool-filter" hidden>
              <label for="tool-search" class="inline">
                Search tools
              </label>
              <input type="search" id="tool-search" autocomplete="off" spellcheck={false} aria-controls="tool-list" aria-describedby="tool-count" />
              <button type="button" data-bulk="all">
                Select all
              </button>
              <button type="button" data-bulk="none">
                None
              </button>
              <button type="button" data-bulk="invert">
                Invert
              </button>
            </div>
            <p id="tool-count" role="status" aria-live="polite" class="muted"></p>
            <ul class="tools" id="tool-list">
              {props.tools.map((t, i) => {
                const exposed = exposedNameIn(src, t.name);
                const o = state.overrides?.[t.name];
                const error = props.errors[t.name];
                return (
                  <li class="tool" data-name={t.name}>
                    <div class="row">
                      <input type="checkbox" id={`s${i}`} name={`sel:${t.name}`} checked={!selected || selected.has(t.name)} />
                      <label for={`s${i}`} class="inline">
                        <code class="exposed">{exposed}</code>
                      </label>
                      {exposed !== t.name ? <span class="muted">{`upstream: ${t.name}`}</span> : null}
                      <AnnotationBadges tool={t} />
                    </div>
                    {typeof t.description === "string" && t.description ? <p class="desc">{t.description}</p> : null}
                    <div class="row overrides">
                      <label for={`r${i}`} class="sr-only">{`Rename ${t.name}`}</label>
                      <input
                        id={`r${i}`}
                        name={`rn:${t.name}`}
                        value={o?.name ?? ""}
                        placeholder="Rename"
                        autocomplete="off"
                        spellcheck={false}
                        aria-invalid={error ? "true" : undefined}
                        aria-describedby={error ? `e${i}` : undefined}
                      />
                      <label for={`d${i}`} class="sr-only">{`Description of ${t.name}`}</label>
                      <input id={`d${i}`} name={`ds:${t.name}`} value={o?.description ?? ""} placeholder="Description override" autocomplete="off" />
                    </div>
                    {error ? (
                      <p class="field-error" id={`e${i}`}>
                        {error}
                      </p>
                    ) : null}
                    <p class="field-error dup" hidden></p>
                  </li>
                );
              })}
            </ul>
          </fieldset>
          <CurationItems server={server} items={props.items} state={state} />
          <p class="save-bar">
            <button type="submit" class="primary">
              Save
            </button>
          </p>
        </form>
      )}
    </Layout>
  );
}
