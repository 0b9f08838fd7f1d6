/** @module The console's page frame: skip link, header with navigation, main landmark, assets. */
import type { Child } from "hono/jsx";
import { ASSET_VERSION } from "./assets";

export interface LayoutProps {
  title: string;
  /** The signed-in user's handle and the session's CSRF token (for the sign-out form); absent on the sign-in page. */
  user?: { handle: string; csrf: string };
  children: Child;
}

export function Layout(props: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <title>{`${props.title} · mcpgate`}</title>
        <link rel="stylesheet" href={`/console/assets/console.${ASSET_VERSION}.css`} />
        <script src={`/console/assets/console.${ASSET_VERSION}.js`} defer></script>
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <a class="brand" href="/console">
            mcpgate console
          </a>
          {props.user ? (
            <nav aria-label="Main">
              <ul>
                <li>
                  <a href="/console">Presets</a>
                </li>
                <li>
                  <a href="/console/presets/new">New preset</a>
                </li>
                <li>
                  <a href="/console/import">Import</a>
                </li>
                <li>
                  <a href="/console/servers">Servers</a>
                </li>
                <li>
                  <a href="/console/tokens">Tokens</a>
                </li>
                <li>
                  <form method="post" action="/console/signout">
                    <input type="hidden" name="csrf" value={props.user.csrf} />
                    <button type="submit" class="link">
                      Sign out {props.user.handle}
                    </button>
                  </form>
                </li>
              </ul>
            </nav>
          ) : null}
        </header>
        <main id="main" tabindex={-1}>
          {props.children}
        </main>
      </body>
    </html>
  );
}
