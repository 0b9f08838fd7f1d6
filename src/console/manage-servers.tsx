/**
 * @module The console's servers pages: list, register, edit, delete with a confirmation step.
 * Header values are write-only: the pages show names with masked values and never render a value
 * back; on edit a blank value keeps the stored one (unless the URL moves to another origin).
 *
 * Routes (under /console): GET /servers; GET /servers/new; POST /servers; GET|POST /servers/:name;
 * GET|POST /servers/:name/delete.
 */

import { and, eq } from "drizzle-orm";
import type { z } from "zod";
import { MASK, serverJson } from "../api/json-views";
import { CreateServerBody, ServerName, UpdateServerBody } from "../api/schemas";
import { type findOwnServer, registerServer, deleteServer as removeServer, updateServer } from "../api/servers";
import { getDb } from "../db/client";
import { servers } from "../db/schema";
import { openHeaders } from "../upstream/header-secrets";
import { apiErrorToErrors, type ConsoleContext, type ConsoleKit, type ConsolePages, Csrf, FormAlert, issuesToErrors } from "./console-kit";
import { Field, type FieldErrors } from "./field";
import { Layout } from "./layout";
import { MessagePage, type SignedIn } from "./pages";

type ServerJson = ReturnType<typeof serverJson>;
interface HeaderRow {
  name: string;
  value: string;
}
export interface ServerFormValues {
  name: string;
  url: string;
  timeoutMs: string;
  headers: HeaderRow[];
}

const EXTRA_HEADER_ROWS = 2;

/** Header rows from the form: `header-name-N` / `header-value-N`, rows without a name dropped. */
function headerRows(body: Record<string, string>): HeaderRow[] {
  const rows: HeaderRow[] = [];
  for (let i = 0; i < 22; i++) {
    const name = (body[`header-name-${i}`] ?? "").trim();
    if (name) rows.push({ name, value: body[`header-value-${i}`] ?? "" });
  }
  return rows;
}

function formValues(body: Record<string, string>): ServerFormValues {
  return { name: (body.name ?? "").trim(), url: (body.url ?? "").trim(), timeoutMs: (body.timeoutMs ?? "").trim(), headers: headerRows(body) };
}

const headerField = (path: PropertyKey[]) => (path[0] === "headers" ? "headers" : String(path[0] ?? "form"));

export function ServersPage(props: { user: SignedIn; servers: ServerJson[]; notice?: string }) {
  return (
    <Layout title="Servers" user={props.user}>
      <h1>Your servers</h1>
      {props.notice ? (
        <p class="muted" role="status">
          {props.notice}
        </p>
      ) : null}
      <p>
        <a class="button primary" href="/console/servers/new">
          Register a server
        </a>
      </p>
      {props.servers.length === 0 ? (
        <p>You have no servers yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Your upstream MCP servers</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">URL</th>
                <th scope="col">Auth</th>
                <th scope="col">Headers</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {props.servers.map((s) => (
                <tr>
                  <th scope="row">
                    <code>{s.name}</code>
                  </th>
                  <td>
                    <code>{s.url}</code>
                  </td>
                  <td>{s.auth}</td>
                  <td>
                    {Object.keys(s.headers).length + s.userHeaders.length === 0 ? (
                      <span class="muted">none</span>
                    ) : (
                      <ul class="plain">
                        {Object.keys(s.headers).map((n) => (
                          <li>
                            <code>{`${n}: ${MASK}`}</code>
                          </li>
                        ))}
                        {s.userHeaders.map((n) => (
                          <li>
                            <code>{n}</code> <span class="muted">(set by each consumer)</span>
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                  <td>
                    <ul class="plain">
                      <li>
                        <a href={`/console/servers/${s.name}`} aria-label={`Edit ${s.name}`}>
                          Edit
                        </a>
                      </li>
                      <li>
                        <a href={`/console/servers/${s.name}/status`} aria-label={`Status and tools of ${s.name}`}>
                          Status
                        </a>
                      </li>
                      <li>
                        <a href={`/console/servers/${s.name}/delete`} aria-label={`Delete ${s.name}`}>
                          Delete
                        </a>
                      </li>
                    </ul>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}

/** The register and edit form; `stored` (edit only): the names of the owner's stored headers. */
export function ServerFormPage(props: { user: SignedIn; values: ServerFormValues; errors: FieldErrors; editing?: string; stored?: string[] }) {
  const v = props.values;
  const rows = [...v.headers.map((h) => ({ name: h.name })), ...Array.from({ length: EXTRA_HEADER_ROWS }, () => ({ name: "" }))];
  const title = props.editing ? `Edit server ${props.editing}` : "Register a server";
  const headerError = props.errors.headers;
  return (
    <Layout title={title} user={props.user}>
      <h1>{title}</h1>
      <form class="stack" method="post" action={props.editing ? `/console/servers/${props.editing}` : "/console/servers"} novalidate>
        <Csrf user={props.user} />
        <FormAlert errors={props.errors} what={props.editing ? "The server was not changed" : "The server was not registered"} />
        <Field id="name" label="Name" hint="1–32 lower-case letters, digits, '_' or '-'; prefixes its tools (name__tool)." errors={props.errors}>
          {(a) => <input {...a} type="text" value={v.name} required autocomplete="off" spellcheck={false} />}
        </Field>
        <Field id="url" label="URL" hint="The upstream's MCP endpoint (Streamable HTTP), https://…" errors={props.errors}>
          {(a) => <input {...a} type="url" value={v.url} required autocomplete="off" spellcheck={false} />}
        </Field>
        <Field id="timeoutMs" label="Timeout (milliseconds)" hint="100–300000; blank: 30000 (or unchanged)." errors={props.errors}>
          {(a) => <input {...a} type="text" inputmode="numeric" value={v.timeoutMs} autocomplete="off" />}
        </Field>
        <fieldset aria-describedby={headerError ? "headers-hint headers-error" : "headers-hint"}>
          <legend>Headers</legend>
          <p class="hint" id="headers-hint">
            Sent to the upstream on every request (e.g. Authorization). Values are stored encrypted and never shown again.
            {props.editing ? " Leave a value blank to keep the stored one; remove a name to delete that header." : " Leave a row blank to skip it."}
          </p>
          {headerError ? (
            <p class="field-error" id="headers-error">
              {headerError}
            </p>
          ) : null}
          {rows.map((r, i) => (
            <div class="header-row">
              <div>
                <label for={`header-name-${i}`}>{`Header ${i + 1} name`}</label>
                <input id={`header-name-${i}`} name={`header-name-${i}`} type="text" value={r.name} autocomplete="off" spellcheck={false} />
              </div>
              <div>
                <label for={`header-value-${i}`}>{`Header ${i + 1} value`}</label>
                <input
                  id={`header-value-${i}`}
                  name={`header-value-${i}`}
                  type="password"
                  value=""
                  autocomplete="off"
                  placeholder={props.stored?.includes(r.name) ? "unchanged" : undefined}
                />
              </div>
            </div>
          ))}
        </fieldset>
        <div>
          <button type="submit" class="primary">
            {props.editing ? "Save changes" : "Register server"}
          </button>{" "}
          <a href="/console/servers">Cancel</a>
        </div>
      </form>
    </Layout>
  );
}

export function DeleteServerPage(props: { user: SignedIn; name: string; error?: string }) {
  return (
    <Layout title={`Delete server ${props.name}`} user={props.user}>
      <h1>{`Delete server ${props.name}?`}</h1>
      {props.error ? (
        <p class="alert" role="alert">
          {props.error}
        </p>
      ) : (
        <p>Its stored headers and consumers' credentials for it are deleted too. This cannot be undone.</p>
      )}
      <form method="post" action={`/console/servers/${props.name}/delete`} class="row">
        <Csrf user={props.user} />
        <button type="submit" class="danger" disabled={props.error ? true : undefined}>
          Delete server
        </button>
        <a href="/console/servers">Cancel</a>
      </form>
    </Layout>
  );
}

async function ownServers(c: ConsoleContext) {
  const rows = await getDb(c.env.DB)
    .select()
    .from(servers)
    .where(eq(servers.ownerId, c.get("userId")))
    .orderBy(servers.name);
  return rows.map(serverJson);
}

/** The headers body of an edit: undefined keeps the stored ones; blanks are filled from storage on the same origin. */
async function editedHeaders(
  c: ConsoleContext,
  current: Awaited<ReturnType<typeof findOwnServer>>,
  rows: HeaderRow[],
  url: string,
): Promise<{ headers?: Record<string, string | { perUser: true }>; error?: string }> {
  const stored = JSON.parse(current.headerNames) as string[];
  const sameNames = rows.length === stored.length && rows.every((r) => stored.includes(r.name));
  if (sameNames && rows.every((r) => r.value === "")) return {};
  let sameOrigin = false;
  try {
    sameOrigin = new URL(url).origin === new URL(current.url).origin;
  } catch {
    // An unparsable URL is reported by the URL check.
  }
  const blanks = rows.filter((r) => r.value === "");
  const storedValues = blanks.length > 0 && sameOrigin ? await openHeaders(c.env, current) : {};
  const headers: Record<string, string | { perUser: true }> = {};
  for (const r of rows) {
    const value = r.value === "" ? storedValues[r.name] : r.value;
    if (value === undefined) {
      return {
        error: stored.includes(r.name)
          ? `${r.name}: enter the value again: the URL moves to another origin, and stored values are never sent there.`
          : `${r.name}: enter a value for a new header.`,
      };
    }
    headers[r.name] = value;
  }
  for (const n of JSON.parse(current.userHeaders) as string[]) headers[n] ??= { perUser: true };
  return { headers };
}

/** Registers the servers pages on the console's authenticated pages app. */
export function mountServerPages(pages: ConsolePages, kit: ConsoleKit): void {
  const notFoundPage = (c: ConsoleContext, name: string) =>
    kit.render(c, <MessagePage title="Not found" message={`You have no server '${name}'.`} user={kit.signedIn(c)} />, 404);
  const own = async (c: ConsoleContext) => {
    const name = c.req.param("name") ?? "";
    if (!ServerName.safeParse(name).success) return undefined;
    return getDb(c.env.DB)
      .select()
      .from(servers)
      .where(and(eq(servers.ownerId, c.get("userId")), eq(servers.name, name)))
      .get();
  };

  pages.get("/servers", async (c) => {
    const notice = {
      registered: "Server registered.",
      saved: "Server saved.",
      deleted: "Server deleted.",
      dropped: "Server saved. Its headers were deleted: the URL moved to another origin.",
    }[c.req.query("done") ?? ""];
    return kit.render(c, <ServersPage user={kit.signedIn(c)} servers={await ownServers(c)} notice={notice} />);
  });
  pages.get("/servers/new", (c) =>
    kit.render(c, <ServerFormPage user={kit.signedIn(c)} values={{ name: "", url: "", timeoutMs: "", headers: [] }} errors={{}} />),
  );
  pages.post("/servers", async (c) => {
    const values = formValues(await kit.form(c));
    const again = (errors: FieldErrors, status: 400 | 409) =>
      kit.render(
        c,
        <ServerFormPage user={kit.signedIn(c)} values={{ ...values, headers: values.headers.map((h) => ({ name: h.name, value: "" })) }} errors={errors} />,
        status,
      );
    const parsed = CreateServerBody.safeParse({
      name: values.name,
      url: values.url,
      ...(values.timeoutMs ? { timeoutMs: Number(values.timeoutMs) } : {}),
      ...(values.headers.length ? { headers: Object.fromEntries(values.headers.map((h) => [h.name, h.value])) } : {}),
    });
    if (!parsed.success) return again(issuesToErrors(parsed.error, headerField), 400);
    try {
      await registerServer(kit.asApp(c), parsed.data);
    } catch (e) {
      const explained = apiErrorToErrors(e, "name");
      if (!explained) throw e;
      return again(explained.status === 409 ? { name: explained.errors.name ?? Object.values(explained.errors)[0] ?? "" } : explained.errors, explained.status);
    }
    return c.redirect("/console/servers?done=registered", 303);
  });
  pages.get("/servers/:name", async (c) => {
    const row = await own(c);
    if (!row) return notFoundPage(c, c.req.param("name"));
    const stored = JSON.parse(row.headerNames) as string[];
    const values = { name: row.name, url: row.url, timeoutMs: String(row.timeoutMs), headers: stored.map((name) => ({ name, value: "" })) };
    return kit.render(c, <ServerFormPage user={kit.signedIn(c)} values={values} errors={{}} editing={row.name} stored={stored} />);
  });
  pages.post("/servers/:name", async (c) => {
    const current = await own(c);
    if (!current) return notFoundPage(c, c.req.param("name"));
    const values = formValues(await kit.form(c));
    const stored = JSON.parse(current.headerNames) as string[];
    const again = (errors: FieldErrors, status: 400 | 409) =>
      kit.render(c, <ServerFormPage user={kit.signedIn(c)} values={values} errors={errors} editing={current.name} stored={stored} />, status);
    const headers = await editedHeaders(c, current, values.headers, values.url);
    if (headers.error) return again({ headers: headers.error }, 400);
    const parsed = UpdateServerBody.safeParse({
      name: values.name,
      url: values.url,
      ...(values.timeoutMs ? { timeoutMs: Number(values.timeoutMs) } : {}),
      ...(headers.headers ? { headers: headers.headers } : {}),
    });
    if (!parsed.success) return again(issuesToErrors(parsed.error, headerField), 400);
    let dropped: string[];
    try {
      dropped = (await updateServer(kit.asApp(c), current.name, parsed.data as z.output<typeof UpdateServerBody>)).dropped;
    } catch (e) {
      const explained = apiErrorToErrors(e, "name");
      if (!explained) throw e;
      return again(explained.errors, explained.status);
    }
    return c.redirect(`/console/servers?done=${dropped.length ? "dropped" : "saved"}`, 303);
  });
  pages.get("/servers/:name/delete", async (c) => {
    const row = await own(c);
    if (!row) return notFoundPage(c, c.req.param("name"));
    return kit.render(c, <DeleteServerPage user={kit.signedIn(c)} name={row.name} />);
  });
  pages.post("/servers/:name/delete", async (c) => {
    const row = await own(c);
    if (!row) return notFoundPage(c, c.req.param("name"));
    try {
      await removeServer(kit.asApp(c), row.name);
    } catch (e) {
      const explained = apiErrorToErrors(e);
      if (!explained) throw e;
      return kit.render(c, <DeleteServerPage user={kit.signedIn(c)} name={row.name} error={explained.errors.form} />, explained.status);
    }
    return c.redirect("/console/servers?done=deleted", 303);
  });
}
