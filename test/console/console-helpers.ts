import { SELF } from "cloudflare:test";
import { ORIGIN, type TestUser } from "../helpers";

/** A tiny browser: a cookie jar (name=value) and same-origin form posts to the worker under test. */
export class ConsoleBrowser {
  readonly cookies = new Map<string, string>();

  async get(path: string): Promise<Response> {
    return this.#keep(await SELF.fetch(`${ORIGIN}${path}`, { headers: { cookie: this.#cookieHeader() }, redirect: "manual" }));
  }

  async post(path: string, fields: Record<string, string>, opts: { origin?: string | null } = {}): Promise<Response> {
    const headers: Record<string, string> = { cookie: this.#cookieHeader(), "content-type": "application/x-www-form-urlencoded" };
    if (opts.origin !== null) headers.origin = opts.origin ?? ORIGIN;
    return this.#keep(await SELF.fetch(`${ORIGIN}${path}`, { method: "POST", headers, body: new URLSearchParams(fields).toString(), redirect: "manual" }));
  }

  /** Signs in with the user's API token through the sign-in form; returns the POST's response. */
  async signIn(user: TestUser | { token: string }): Promise<Response> {
    const page = await this.get("/console/signin");
    const csrf = csrfOf(await page.text());
    return this.post("/console/signin", { csrf, token: user.token });
  }

  /** The CSRF token of a page's forms. */
  async csrf(path = "/console"): Promise<string> {
    const res = await this.get(path);
    return csrfOf(await res.text());
  }

  #cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  #keep(res: Response): Response {
    for (const line of res.headers.getAll("set-cookie")) {
      const [pair = "", ...attrs] = line.split(";");
      const i = pair.indexOf("=");
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (!value || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
}

export function csrfOf(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html);
  if (!m?.[1]) throw new Error(`no CSRF field in: ${html.slice(0, 300)}`);
  return m[1];
}

/** A multipart/form-data POST (the import form's file upload) with an honest content-length, as browsers send it. */
export async function postMultipart(browser: ConsoleBrowser, path: string, form: FormData, opts: { origin?: string } = {}): Promise<Response> {
  const encoded = new Response(form);
  const body = await encoded.arrayBuffer();
  const headers = {
    cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
    "content-type": encoded.headers.get("content-type") ?? "",
    "content-length": String(body.byteLength),
    origin: opts.origin ?? ORIGIN,
  };
  return SELF.fetch(`${ORIGIN}${path}`, { method: "POST", headers, body, redirect: "manual" });
}
