/**
 * @module The console's API tokens pages: list, create (the secret shown once, on the answer to the
 * POST, never again), revoke with a confirmation step.
 *
 * Routes (under /console): GET /tokens; POST /tokens; GET|POST /tokens/:id/revoke.
 */

import { CreateTokenBody } from "../api/schemas";
import { createToken, listTokens, revokeToken } from "../api/tokens";
import { type ConsoleContext, type ConsoleKit, type ConsolePages, Csrf, FormAlert, issuesToErrors } from "./console-kit";
import { Field, type FieldErrors } from "./field";
import { Layout } from "./layout";
import { MessagePage, type SignedIn } from "./pages";

type TokenJson = Awaited<ReturnType<typeof listTokens>>[number];
type CreatedToken = Awaited<ReturnType<typeof createToken>>;

const day = (iso: string | null) => (iso ? iso.slice(0, 16).replace("T", " ") : "never");

export function TokensPage(props: { user: SignedIn; tokens: TokenJson[]; values: { name: string; scope: string }; errors: FieldErrors; notice?: string }) {
  return (
    <Layout title="API tokens" user={props.user}>
      <h1>API tokens</h1>
      {props.notice ? (
        <p class="muted" role="status">
          {props.notice}
        </p>
      ) : null}
      {props.tokens.length === 0 ? (
        <p>You have no API tokens.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Your API tokens</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Scope</th>
                <th scope="col">Starts with</th>
                <th scope="col">Created (UTC)</th>
                <th scope="col">Last used (UTC)</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {props.tokens.map((t) => (
                <tr>
                  <th scope="row">{t.name}</th>
                  <td>{t.scope}</td>
                  <td>
                    <code>{t.prefix}</code>
                  </td>
                  <td>{day(t.createdAt)}</td>
                  <td>{day(t.lastUsedAt)}</td>
                  <td>
                    <a href={`/console/tokens/${t.id}/revoke`} aria-label={`Revoke ${t.name}`}>
                      Revoke
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>Create a token</h2>
      <form class="stack" method="post" action="/console/tokens" novalidate>
        <Csrf user={props.user} />
        <FormAlert errors={props.errors} what="The token was not created" />
        <Field id="name" label="Name" hint="What it is for, e.g. 'laptop claude'." errors={props.errors}>
          {(a) => <input {...a} type="text" value={props.values.name} required autocomplete="off" />}
        </Field>
        <Field
          id="scope"
          label="Scope"
          hint="manage: the management API, the console and MCP; mcp: MCP endpoints only (for client configurations)."
          errors={props.errors}
        >
          {(a) => (
            <select {...a}>
              {(["mcp", "manage"] as const).map((o) => (
                <option value={o} selected={props.values.scope === o}>
                  {o}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div>
          <button type="submit" class="primary">
            Create token
          </button>
        </div>
      </form>
    </Layout>
  );
}

export function CreatedTokenPage(props: { user: SignedIn; token: CreatedToken }) {
  return (
    <Layout title="Token created" user={props.user}>
      <h1>{`Token '${props.token.name}' created`}</h1>
      <p class="alert" role="alert">
        Copy it now: it is shown only this once. The gateway stores only its hash.
      </p>
      <dl class="facts">
        <dt>Scope</dt>
        <dd>{props.token.scope}</dd>
        <dt>Token</dt>
        <dd>
          <code id="new-token">{props.token.token}</code>
        </dd>
      </dl>
      <p class="row">
        <button type="button" data-copy={props.token.token} data-label="token" hidden>
          Copy token
        </button>
      </p>
      <p id="copy-status" role="status" aria-live="polite"></p>
      <p>
        <a href="/console/tokens">Done: back to the tokens</a>
      </p>
    </Layout>
  );
}

export function RevokeTokenPage(props: { user: SignedIn; token: TokenJson }) {
  return (
    <Layout title={`Revoke token ${props.token.name}`} user={props.user}>
      <h1>{`Revoke token '${props.token.name}'?`}</h1>
      <p>
        It stops working at once, for the API, the console and MCP clients. Token starting <code>{props.token.prefix}</code>, scope {props.token.scope}.
      </p>
      <form method="post" action={`/console/tokens/${props.token.id}/revoke`} class="row">
        <Csrf user={props.user} />
        <button type="submit" class="danger">
          Revoke token
        </button>
        <a href="/console/tokens">Cancel</a>
      </form>
    </Layout>
  );
}

/** Registers the tokens pages on the console's authenticated pages app. */
export function mountTokenPages(pages: ConsolePages, kit: ConsoleKit): void {
  const listPage = async (c: ConsoleContext, values = { name: "", scope: "mcp" }, errors: FieldErrors = {}, notice?: string) =>
    kit.render(
      c,
      <TokensPage user={kit.signedIn(c)} tokens={await listTokens(kit.asApp(c))} values={values} errors={errors} notice={notice} />,
      errors.name || errors.scope ? 400 : 200,
    );
  const ownToken = async (c: ConsoleContext) => (await listTokens(kit.asApp(c))).find((t) => t.id === c.req.param("id"));
  const notFoundPage = (c: ConsoleContext) => kit.render(c, <MessagePage title="Not found" message="You have no such token." user={kit.signedIn(c)} />, 404);

  pages.get("/tokens", (c) => listPage(c, undefined, undefined, c.req.query("done") === "revoked" ? "Token revoked." : undefined));
  pages.post("/tokens", async (c) => {
    const body = await kit.form(c);
    const values = { name: body.name ?? "", scope: body.scope ?? "" };
    const parsed = CreateTokenBody.safeParse(values);
    if (!parsed.success) return listPage(c, values, issuesToErrors(parsed.error));
    const created = await createToken(kit.asApp(c), parsed.data);
    return kit.render(c, <CreatedTokenPage user={kit.signedIn(c)} token={created} />);
  });
  pages.get("/tokens/:id/revoke", async (c) => {
    const token = await ownToken(c);
    if (!token) return notFoundPage(c);
    return kit.render(c, <RevokeTokenPage user={kit.signedIn(c)} token={token} />);
  });
  pages.post("/tokens/:id/revoke", async (c) => {
    const token = await ownToken(c);
    if (!token) return notFoundPage(c);
    await revokeToken(kit.asApp(c), token.id);
    // Revoking the token the session was started with does not end the session: sessions are their own credential.
    return c.redirect("/console/tokens?done=revoked", 303);
  });
}
