/**
 * @module The console's drift review (tool pinning): what a preset holds because its upstream
 * changed it or added it, with the diff GET /presets/:slug/drift shows (already cut to DIFF_LIMITS),
 * and approve or reject per item or all at once through the drift API's own functions.
 *
 * Routes (under /console): GET /presets/:slug/drift; POST /presets/:slug/drift/{approve,reject}
 * (fields `all=1`, or `server`, `kind`, `name` of one item; back to the page with a confirmation).
 */
import { heldItems, reviewHeld } from "../api/drift";
import { DriftReviewBody } from "../api/schemas";
import type { HeldItem } from "../pinning/pin-board";
import { ApiError } from "../shared/errors";
import { type ConsoleContext, type ConsoleKit, type ConsolePages, Csrf } from "./console-kit";
import { Layout } from "./layout";
import { MessagePage, type SignedIn } from "./pages";

const KIND_LABEL = { tool: "Tool", prompt: "Prompt", template: "Resource template" } as const;
const DONE: Record<string, string> = {
  approved: "approved: the current definitions are pinned and exposed again",
  rejected: "rejected: the old pins stay, and these items stay held",
};

const shown = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));

function Diff(props: { item: HeldItem }) {
  const { diff } = props.item;
  const rows = [
    ...Object.entries(diff.fields).map(([path, v]) => ({ path, before: shown(v.before), after: shown(v.after) })),
    ...diff.changed.map((c) => ({ path: c.path, before: shown(c.before), after: shown(c.after) })),
    ...diff.added.map((path) => ({ path, before: "(absent)", after: "(added)" })),
    ...diff.removed.map((path) => ({ path, before: "(present)", after: "(removed)" })),
  ];
  if (rows.length === 0) return <p class="muted">No field differs in a way a diff shows.</p>;
  return (
    <div class="table-wrap">
      <table class="diff">
        <caption class="visually-hidden">{`What changed in ${props.item.name}`}</caption>
        <thead>
          <tr>
            <th scope="col">Path</th>
            <th scope="col">Before</th>
            <th scope="col">After</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr>
              <th scope="row">
                <code>{r.path}</code>
              </th>
              <td>
                <del>{r.before}</del>
              </td>
              <td>
                <ins>{r.after}</ins>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {diff.truncated ? <p class="muted">The diff was cut: there was more to show than it keeps.</p> : null}
    </div>
  );
}

export function DriftPage(props: { user: SignedIn; slug: string; name: string; items: HeldItem[]; done?: string; count?: number }) {
  const base = `/console/presets/${props.slug}/drift`;
  return (
    <Layout title={`Review changes of ${props.name}`} user={props.user}>
      <p>
        <a href={`/console/presets/${props.slug}`}>{`← ${props.name}`}</a>
      </p>
      <h1>Changes held for review</h1>
      {props.done && DONE[props.done] ? (
        <p role="status" class="ok-note">{`${props.count ?? 0} ${props.count === 1 ? "item" : "items"} ${DONE[props.done]}.`}</p>
      ) : null}
      {props.items.length === 0 ? (
        <p>Nothing is held: every tool, prompt and template is served as you approved it.</p>
      ) : (
        <>
          <p>{`${props.items.length} held: not listed and not callable until you approve them. Rejecting keeps the old definition pinned and stops alerts about this one.`}</p>
          <form method="post" action={`${base}/approve`} class="row">
            <Csrf user={props.user} />
            <input type="hidden" name="all" value="1" />
            <button type="submit" class="primary">
              Approve all
            </button>
            <button type="submit" formaction={`${base}/reject`}>
              Reject all
            </button>
          </form>
          <ul class="held">
            {props.items.map((h, i) => (
              <li class="held-item">
                <h2 id={`h${i}`}>
                  <code>{`${h.server} / ${h.name}`}</code>
                </h2>
                <p class="row">
                  <span class="badge">{KIND_LABEL[h.kind]}</span>
                  <span class={`badge ${h.change === "added" ? "degraded" : "open"}`}>{h.change === "added" ? "new" : "changed"}</span>
                  {h.rejectedAt ? <span class="muted">rejected before</span> : null}
                </p>
                <Diff item={h} />
                <form method="post" action={`${base}/approve`} class="row" aria-labelledby={`h${i}`}>
                  <Csrf user={props.user} />
                  <input type="hidden" name="server" value={h.server} />
                  <input type="hidden" name="kind" value={h.kind} />
                  <input type="hidden" name="name" value={h.name} />
                  <button type="submit" class="primary" aria-label={`Approve ${h.server} / ${h.name}`}>
                    Approve
                  </button>
                  <button type="submit" formaction={`${base}/reject`} aria-label={`Reject ${h.server} / ${h.name}`}>
                    Reject
                  </button>
                </form>
              </li>
            ))}
          </ul>
        </>
      )}
    </Layout>
  );
}

/** Registers the drift review pages on the console's authenticated pages app. */
export function mountDriftPages(pages: ConsolePages, kit: ConsoleKit): void {
  const failed = (c: ConsoleContext, e: unknown) => {
    if (!(e instanceof ApiError) || (e.status !== 404 && e.status !== 400)) throw e;
    const title = e.status === 404 ? "Not found" : "Not done";
    return kit.render(c, <MessagePage title={title} message={e.message} user={kit.signedIn(c)} />, e.status);
  };
  pages.get("/presets/:slug/drift", async (c) => {
    try {
      const { preset, items } = await heldItems(kit.asApp(c), c.req.param("slug"));
      const count = Number(c.req.query("n") ?? 0);
      return kit.render(c, <DriftPage user={kit.signedIn(c)} slug={preset.slug} name={preset.name} items={items} done={c.req.query("done")} count={count} />);
    } catch (e) {
      return failed(c, e);
    }
  });
  for (const action of ["approve", "reject"] as const) {
    pages.post(`/presets/:slug/drift/${action}`, async (c) => {
      const slug = c.req.param("slug") ?? "";
      const f = await kit.form(c);
      const parsed = DriftReviewBody.safeParse(f.all === "1" ? { all: true } : { items: [{ server: f.server ?? "", name: f.name ?? "", kind: f.kind }] });
      try {
        if (!parsed.success) throw new ApiError(400, "invalid_request", "The form does not name an item to review.");
        const done = await reviewHeld(kit.asApp(c), slug, action, parsed.data.items ?? null);
        return c.redirect(`/console/presets/${slug}/drift?done=${action === "approve" ? "approved" : "rejected"}&n=${done.length}`, 303);
      } catch (e) {
        return failed(c, e);
      }
    });
  }
}
