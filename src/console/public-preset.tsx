/**
 * @module A preset's public page in the console: what anyone signed in may see of another user's
 * public, active preset (name, description, owner, URL, snippets, attached servers by name and their
 * selected tools) and a "Fork into my account" link. Read from D1 only: no upstream call, and no
 * server URL or header (a URL may carry a secret). Anything else is the same 404 page, so the
 * page does not tell whether a private preset exists.
 *
 * Routes (under /console): GET /p/:handle/:slug.
 */
import { presetUrl } from "../api/json-views";
import { getDb } from "../db/client";
import { attachedServers, findPreset } from "../db/presets-repository";
import { publicUrl } from "../shared/public-url";
import { exposedNameIn } from "../tools/catalog";
import type { ConsoleContext, ConsoleKit, ConsolePages } from "./console-kit";
import { Layout } from "./layout";
import { ConnectSection, MessagePage, type SignedIn } from "./pages";

const NAME = /^[a-z0-9-]{1,50}$/;

export interface PublicPreset {
  owner: string;
  slug: string;
  name: string;
  description: string | null;
  url: string;
  /** Enabled servers by name; `tools` null: all of the server's tools. */
  servers: { name: string; tools: string[] | null }[];
}

/** The public, active preset `handle/slug` as its public page shows it, or undefined for anything else. */
export async function findPublicPreset(c: ConsoleContext, handle: string, slug: string): Promise<PublicPreset | undefined> {
  if (!NAME.test(handle) || !NAME.test(slug)) return undefined;
  const owner = await c.env.DB.prepare("SELECT id FROM users WHERE handle = ?").bind(handle).first<{ id: string }>();
  const found = owner ? await findPreset(getDb(c.env.DB), owner.id, slug) : undefined;
  if (found?.preset.visibility !== "public" || found.preset.status !== "active") return undefined;
  const p = found.preset;
  const attached = await attachedServers(getDb(c.env.DB), p.id);
  return {
    owner: found.handle,
    slug: p.slug,
    name: p.name,
    description: p.description,
    url: presetUrl(publicUrl(c), found.handle, p.slug),
    servers: attached
      .filter((s) => s.enabled)
      .map((s) => ({
        name: s.name,
        tools: s.tools === null ? null : s.tools.map((t) => exposedNameIn({ server: s.name, naming: p.toolNaming, overrides: s.overrides }, t)).sort(),
      })),
  };
}

export function PublicPresetPage(props: { user: SignedIn; preset: PublicPreset }) {
  const p = props.preset;
  const from = `${p.owner}/${p.slug}`;
  const mine = p.owner === props.user.handle;
  return (
    <Layout title={p.name} user={props.user}>
      <h1>{p.name}</h1>
      {p.description ? <p>{p.description}</p> : null}
      <dl class="facts">
        <dt>Owner</dt>
        <dd>{p.owner}</dd>
        <dt>Preset</dt>
        <dd>
          <code>{from}</code>
        </dd>
      </dl>
      <p>
        <a class="button primary" href={`/console/fork?from=${encodeURIComponent(from)}`}>
          Fork into my account
        </a>
      </p>
      {mine ? (
        <p>
          <a href={`/console/presets/${p.slug}`}>Manage this preset</a>
        </p>
      ) : null}
      <h2 id="servers-heading">Servers and tools</h2>
      {p.servers.length === 0 ? (
        <p>No servers attached.</p>
      ) : (
        <ul class="plain public-servers" aria-labelledby="servers-heading">
          {p.servers.map((s) => (
            <li>
              <h3>{s.name}</h3>
              {s.tools === null ? (
                <p class="muted">All of the server's tools, including future ones.</p>
              ) : s.tools.length === 0 ? (
                <p class="muted">No tools selected.</p>
              ) : (
                <ul class="badges" aria-label={`Tools of ${s.name}`}>
                  {s.tools.map((t) => (
                    <li class="badge">
                      <code>{t}</code>
                    </li>
                  ))}
                </ul>
              )}
            </li>
          ))}
        </ul>
      )}
      <ConnectSection slug={p.slug} url={p.url} />
    </Layout>
  );
}

/** Registers the public preset page on the console's authenticated pages app. */
export function mountPublicPresetPages(pages: ConsolePages, kit: ConsoleKit): void {
  pages.get("/p/:handle/:slug", async (c) => {
    const preset = await findPublicPreset(c, c.req.param("handle"), c.req.param("slug"));
    if (!preset) return kit.render(c, <MessagePage title="Not found" message="There is no public preset at this address." user={kit.signedIn(c)} />, 404);
    return kit.render(c, <PublicPresetPage user={kit.signedIn(c)} preset={preset} />);
  });
}
