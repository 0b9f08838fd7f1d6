/**
 * @module The prompts and resources part of a curation page: the upstream's live prompts,
 * resources and resource templates with a checkbox each and an "all, including future ones" box per
 * kind, saved by the same form as the tools (fields `items`: the part was on the page; `allp`,
 * `p:<prompt name>`; `allr`, `r:<resource URI or URI template>`). A part that was not on the page
 * (the upstream could not be listed) leaves its selection as it is.
 */
import type { UpstreamItems } from "../upstream/one-shot";

/** At most this many resources (and templates) are shown with a checkbox, so the form stays bounded; the rest keep their selection. */
export const MAX_SHOWN_RESOURCES = 200;

export interface ItemSelection {
  prompts: string[] | null;
  resources: string[] | null;
}

/** What the page lists: prompt names, and resource URIs then template URI templates (capped), each with a description. */
export interface ShownItems {
  prompts: { key: string; description: string }[];
  resources: { key: string; description: string; template: boolean }[];
  /** Resources and templates the upstream lists beyond what is shown. */
  hidden: number;
}

const text = (v: unknown) => (typeof v === "string" ? v : "");

export function shownItems(items: UpstreamItems): ShownItems {
  const prompts = items.prompts.filter((p) => typeof p.name === "string").map((p) => ({ key: p.name as string, description: text(p.description) }));
  const all = [
    ...items.resources
      .filter((r) => typeof r.uri === "string")
      .map((r) => ({ key: r.uri as string, description: text(r.description) || text(r.name), template: false })),
    ...items.resourceTemplates
      .filter((r) => typeof r.uriTemplate === "string")
      .map((r) => ({ key: r.uriTemplate as string, description: text(r.description) || text(r.name), template: true })),
  ];
  return { prompts, resources: all.slice(0, MAX_SHOWN_RESOURCES), hidden: Math.max(0, all.length - MAX_SHOWN_RESOURCES) };
}

/** The selection a submitted form asks for; entries not shown now keep their state. */
export function itemsFromForm(fields: Record<string, string>, shown: ShownItems | undefined, current: ItemSelection): ItemSelection {
  if (!shown || fields.items !== "on") return { prompts: current.prompts, resources: current.resources };
  const pick = (all: string | undefined, prefix: string, listed: string[], was: string[] | null) => {
    if (all === "on") return null;
    const on = new Set(listed);
    return [...listed.filter((k) => fields[`${prefix}${k}`] !== undefined), ...(was ?? []).filter((k) => !on.has(k))];
  };
  return {
    prompts: pick(
      fields.allp,
      "p:",
      shown.prompts.map((p) => p.key),
      current.prompts,
    ),
    resources: pick(
      fields.allr,
      "r:",
      shown.resources.map((r) => r.key),
      current.resources,
    ),
  };
}

function Part(props: {
  id: string;
  legend: string;
  allName: string;
  allLabel: string;
  prefix: string;
  rows: { key: string; description: string; template?: boolean }[];
  selected: string[] | null;
  none: string;
}) {
  const chosen = props.selected ? new Set(props.selected) : null;
  return (
    <fieldset>
      <legend>{props.legend}</legend>
      <p>
        <input type="checkbox" id={`all-${props.id}`} name={props.allName} checked={chosen === null} />
        <label for={`all-${props.id}`} class="inline">
          {props.allLabel}
        </label>
      </p>
      {props.rows.length === 0 ? <p class="muted">{props.none}</p> : null}
      <ul class="items">
        {props.rows.map((r, i) => (
          <li class="row">
            <input type="checkbox" id={`${props.id}${i}`} name={`${props.prefix}${r.key}`} checked={!chosen || chosen.has(r.key)} />
            <label for={`${props.id}${i}`} class="inline">
              <code>{r.key}</code>
            </label>
            {r.template ? <span class="badge">template</span> : null}
            {r.description ? <span class="muted">{r.description}</span> : null}
          </li>
        ))}
      </ul>
    </fieldset>
  );
}

/** The prompts and resources fieldsets of the curation form, or why the upstream's lists are missing. */
export function CurationItems(props: { server: string; items: ShownItems | { error: string }; state: ItemSelection }) {
  if ("error" in props.items)
    return <p class="alert">{`The upstream's prompts and resources cannot be listed right now: ${props.items.error} Their selection is unchanged.`}</p>;
  const { prompts, resources, hidden } = props.items;
  return (
    <>
      <input type="hidden" name="items" value="on" />
      <Part
        id="pr"
        legend={`${props.server}: ${prompts.length} prompts`}
        allName="allp"
        allLabel="All prompts, including future ones"
        prefix="p:"
        rows={prompts}
        selected={props.state.prompts}
        none="The upstream lists no prompts."
      />
      <Part
        id="rs"
        legend={`${props.server}: ${resources.length + hidden} resources and templates`}
        allName="allr"
        allLabel="All resources and templates, including future ones"
        prefix="r:"
        rows={resources}
        selected={props.state.resources}
        none="The upstream lists no resources or resource templates."
      />
      {hidden ? <p class="muted">{`${hidden} more are not shown here; their selection is kept (the API can change it).`}</p> : null}
    </>
  );
}
