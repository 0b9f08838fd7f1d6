/**
 * @module The gateway's public base URL (no trailing slash): PUBLIC_URL when configured, else the
 * request's origin. Preset URLs, the OAuth issuer and every discovery document start with it.
 */
export function publicUrl(c: { env: { PUBLIC_URL?: string }; req: { url: string } }): string {
  return (c.env.PUBLIC_URL || new URL(c.req.url).origin).replace(/\/+$/, "");
}
