/** @module The console's pages as Hono JSX components: sign-in, presets list, new preset, one preset. */
import type { Child } from "hono/jsx";
import type { presetView } from "../api/presets";
import { Field } from "./field";
import { Layout } from "./layout";
import { clientSnippets } from "./snippets";
import { Sparkline, type SparkPoint } from "./sparkline";

export type PresetJson = Awaited<ReturnType<typeof presetView>>;
export interface SignedIn {
  handle: string;
  csrf: string;
}

export function SignInPage(props: { csrf: string; error?: string; oidc?: { name: string; url: string } }) {
  return (
    <Layout title="Sign in">
      <h1>Sign in to the mcpgate console</h1>
      {props.oidc ? (
        <>
          <p>
            <a class="button" href={props.oidc.url}>{`Sign in with ${props.oidc.name}`}</a>
          </p>
          <p class="muted">or with an API token:</p>
        </>
      ) : null}
      <form class="stack" method="post" action="/console/signin">
        <input type="hidden" name="csrf" value={props.csrf} />
        {props.error ? (
          <p class="alert" role="alert" id="signin-error">
            {props.error}
          </p>
        ) : null}
        <div>
          <label for="token">
            API token
            <span class="hint" id="token-hint">
              A token with scope <code>manage</code>, starting with <code>mcpg_</code>. It is not stored in the browser.
            </span>
          </label>
          <input
            id="token"
            name="token"
            type="password"
            autocomplete="off"
            spellcheck={false}
            required
            aria-describedby={props.error ? "token-hint signin-error" : "token-hint"}
            aria-invalid={props.error ? "true" : undefined}
          />
        </div>
        <div>
          <button type="submit" class="primary">
            Sign in
          </button>
        </div>
      </form>
    </Layout>
  );
}

export interface PresetRow {
  preset: PresetJson;
  series: SparkPoint[];
  calls: number;
  errors: number;
}

function HealthBadges(props: { preset: PresetJson }) {
  if (props.preset.servers.length === 0) return <p class="muted">No servers attached.</p>;
  return (
    <ul class="badges" aria-label="Upstream health">
      {props.preset.servers.map((s) => (
        <li class={`badge ${s.health.status}`}>{`${s.name}: ${s.health.status}`}</li>
      ))}
    </ul>
  );
}

export function PresetsPage(props: { user: SignedIn; rows: PresetRow[]; created?: string }) {
  return (
    <Layout title="Presets" user={props.user}>
      <div class="row">
        <h1>Your presets</h1>
      </div>
      <p>
        <a class="button primary" href="/console/presets/new">
          New preset
        </a>
      </p>
      {props.rows.length === 0 ? <p>You have no presets yet.</p> : null}
      <ul class="cards" aria-label="Presets">
        {props.rows.map((r) => (
          <li class="card">
            <h2>
              <a href={`/console/presets/${r.preset.slug}`}>{r.preset.name}</a>
            </h2>
            <p class="muted">
              <code>{r.preset.slug}</code>
            </p>
            <ul class="badges" aria-label="Status and visibility">
              <li class="badge">{r.preset.status}</li>
              <li class="badge">{r.preset.visibility.replace("_", " ")}</li>
            </ul>
            <HealthBadges preset={r.preset} />
            <Sparkline series={r.series} label={`${r.calls} calls, ${r.errors} errors in the last 24 hours`} />
            <p class="muted">{`${r.calls} calls, ${r.errors} errors (24 h)`}</p>
          </li>
        ))}
      </ul>
    </Layout>
  );
}

export interface PresetForm {
  slug: string;
  name: string;
  visibility: string;
}

export function NewPresetPage(props: { user: SignedIn; values: PresetForm; errors: Record<string, string>; formError?: string }) {
  const v = props.values;
  return (
    <Layout title="New preset" user={props.user}>
      <h1>New preset</h1>
      <form class="stack" method="post" action="/console/presets" novalidate>
        <input type="hidden" name="csrf" value={props.user.csrf} />
        {props.formError ? (
          <p class="alert" role="alert">
            {props.formError}
          </p>
        ) : Object.keys(props.errors).length ? (
          <p class="alert" role="alert">
            The preset was not created: fix the fields marked below.
          </p>
        ) : null}
        <Field id="slug" label="Slug" hint="3–50 lower-case letters, digits and dashes; part of the MCP URL." errors={props.errors}>
          {(a) => <input {...a} type="text" value={v.slug} required autocomplete="off" spellcheck={false} />}
        </Field>
        <Field id="name" label="Name" hint="Shown to you and to people you share it with." errors={props.errors}>
          {(a) => <input {...a} type="text" value={v.name} required autocomplete="off" />}
        </Field>
        <Field id="visibility" label="Visibility" hint="Public: anyone with the URL. Private: only you. Invite only: you and members." errors={props.errors}>
          {(a) => (
            <select {...a}>
              {(["private", "public", "invite_only"] as const).map((o) => (
                <option value={o} selected={v.visibility === o}>
                  {o.replace("_", " ")}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div>
          <button type="submit" class="primary">
            Create preset
          </button>
        </div>
      </form>
    </Layout>
  );
}

export function CopyButton(props: { text: string; label: string }) {
  return (
    <button type="button" data-copy={props.text} data-label={props.label} hidden>
      {`Copy ${props.label}`}
    </button>
  );
}

/** The MCP URL with its copy button and the client snippets: the owner's preset page and the public page. */
export function ConnectSection(props: { slug: string; url: string }) {
  const p = props;
  return (
    <>
      <h2 id="url-heading">MCP URL</h2>
      <div class="row">
        <code id="mcp-url">{p.url}</code>
        <CopyButton text={p.url} label="MCP URL" />
      </div>
      <p id="copy-status" role="status" aria-live="polite"></p>
      <h2>Connect a client</h2>
      {clientSnippets(p.slug, p.url).map((s) => (
        <section class="snippet" aria-labelledby={`snippet-${s.id}`}>
          <div class="row">
            <h3 id={`snippet-${s.id}`}>{s.title}</h3>
            <CopyButton text={s.text} label={`${s.title} snippet`} />
          </div>
          <pre>
            <code>{s.text}</code>
          </pre>
        </section>
      ))}
    </>
  );
}

export function PresetPage(props: { user: SignedIn; preset: PresetJson; created?: boolean; children?: Child }) {
  const p = props.preset;
  return (
    <Layout title={p.name} user={props.user}>
      {props.created ? (
        <p class="muted" role="status">
          Preset created.
        </p>
      ) : null}
      <h1>{p.name}</h1>
      <dl class="facts">
        <dt>Slug</dt>
        <dd>
          <code>{p.slug}</code>
        </dd>
        <dt>Status</dt>
        <dd>{p.status}</dd>
        <dt>Visibility</dt>
        <dd>{p.visibility.replace("_", " ")}</dd>
        <dt>Servers</dt>
        <dd>
          <HealthBadges preset={p} />
        </dd>
      </dl>
      {props.children}
      <p>
        <a href={`/console/presets/${p.slug}/settings`}>Settings, members, clone, export and delete</a>
      </p>
      <p>
        <a href={`/console/presets/${p.slug}/watch`}>Watch: usage, audit trail and call log</a>
      </p>
      {p.visibility === "public" && p.status === "active" ? (
        <p>
          <a href={`/console/p/${p.owner}/${p.slug}`}>Public page</a>
        </p>
      ) : null}
      <ConnectSection slug={p.slug} url={p.url} />
    </Layout>
  );
}

export function MessagePage(props: { title: string; message: string; user?: SignedIn }) {
  return (
    <Layout title={props.title} user={props.user}>
      <h1>{props.title}</h1>
      <p>{props.message}</p>
      <p>
        <a href="/console">Back to the console</a>
      </p>
    </Layout>
  );
}
