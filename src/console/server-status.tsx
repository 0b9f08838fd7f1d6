/**
 * @module A server's status page in the console: a "Test connection" button that runs the health
 * check of GET /servers/:name/health (ping through the gateway's MCP client, latency, the breaker
 * in each preset using the server) and the live tool list of GET /servers/:name/tools, with
 * descriptions and annotation badges. Both come from the API's own functions.
 *
 * Routes (under /console): GET /servers/:name/status; POST /servers/:name/status (test connection).
 */
import { serverHealth } from "../api/server-health";
import { findOwnServer, liveTools } from "../api/servers";
import { ApiError } from "../shared/errors";
import type { Tool } from "../upstream/client";
import { type ConsoleContext, type ConsoleKit, type ConsolePages, Csrf } from "./console-kit";
import { AnnotationBadges } from "./curation";
import { Layout } from "./layout";
import { MessagePage, type SignedIn } from "./pages";

type HealthReport = Awaited<ReturnType<typeof serverHealth>>;

function HealthResult(props: { report: HealthReport }) {
  const r = props.report;
  return (
    <section aria-labelledby="test-result" class="health-result" role="status">
      <h2 id="test-result">{r.status === "ok" ? "Connection ok" : "Connection failing"}</h2>
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <span class={`badge ${r.status === "ok" ? "ok" : "open"}`}>{r.status}</span>
        </dd>
        <dt>Latency</dt>
        <dd>{r.latencyMs === null ? "none (no answer)" : `${r.latencyMs} ms`}</dd>
        {r.error ? (
          <>
            <dt>Error</dt>
            <dd class="alert">{`${r.error.message} (${r.error.code})`}</dd>
          </>
        ) : null}
        <dt>Checked at</dt>
        <dd>
          <time datetime={r.checkedAt}>{r.checkedAt}</time>
        </dd>
      </dl>
      {r.breakers.length === 0 ? (
        <p class="muted">No preset uses this server, so it has no circuit breaker yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption>Circuit breaker in each preset using it</caption>
            <thead>
              <tr>
                <th scope="col">Preset</th>
                <th scope="col">Breaker</th>
                <th scope="col">Last error</th>
              </tr>
            </thead>
            <tbody>
              {r.breakers.map((b) => (
                <tr>
                  <th scope="row">
                    <a href={`/console/presets/${b.preset}`}>{b.preset}</a>
                  </th>
                  <td>
                    <span class={`badge ${b.status}`}>{b.breaker.replace("_", "-")}</span>
                  </td>
                  <td>{b.lastError ? b.lastError.message : <span class="muted">none</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function LiveTools(props: { tools: Tool[] | { error: string } }) {
  const { tools } = props;
  return (
    <section aria-labelledby="live-tools">
      <h2 id="live-tools">Live tools</h2>
      {"error" in tools ? (
        <p class="alert">{`The upstream's tools cannot be listed right now: ${tools.error}`}</p>
      ) : tools.length === 0 ? (
        <p>The upstream lists no tools.</p>
      ) : (
        <>
          <p class="muted">{`${tools.length} tools, as the upstream lists them now.`}</p>
          <ul class="tools">
            {tools.map((t) => (
              <li class="tool">
                <div class="row">
                  <code>{t.name}</code>
                  <AnnotationBadges tool={t} />
                </div>
                {typeof t.description === "string" && t.description ? <p class="desc">{t.description}</p> : null}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

export function ServerStatusPage(props: { user: SignedIn; name: string; tools: Tool[] | { error: string }; report?: HealthReport }) {
  return (
    <Layout title={`Status of ${props.name}`} user={props.user}>
      <p>
        <a href="/console/servers">← Servers</a>
      </p>
      <h1>{`Status of ${props.name}`}</h1>
      <form method="post" action={`/console/servers/${props.name}/status`} class="row">
        <Csrf user={props.user} />
        <button type="submit" class="primary">
          Test connection
        </button>
        <span class="hint">Pings the upstream through the gateway's MCP client.</span>
      </form>
      {props.report ? <HealthResult report={props.report} /> : null}
      <LiveTools tools={props.tools} />
    </Layout>
  );
}

/** Registers the server status page on the console's authenticated pages app. */
export function mountServerStatusPages(pages: ConsolePages, kit: ConsoleKit): void {
  const page = async (c: ConsoleContext, test: boolean) => {
    const app = kit.asApp(c);
    try {
      const row = await findOwnServer(app, c.req.param("name") ?? "");
      const [tools, report] = await Promise.all([
        liveTools(app, row).catch((e: unknown) => {
          if (e instanceof ApiError) return { error: e.message };
          throw e;
        }),
        test ? serverHealth(app, row.name) : undefined,
      ]);
      return kit.render(c, <ServerStatusPage user={kit.signedIn(c)} name={row.name} tools={tools} report={report} />);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
      return kit.render(c, <MessagePage title="Not found" message={`You have no server '${c.req.param("name")}'.`} user={kit.signedIn(c)} />, 404);
    }
  };
  pages.get("/servers/:name/status", (c) => page(c, false));
  pages.post("/servers/:name/status", (c) => page(c, true));
}
