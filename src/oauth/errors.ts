/** An OAuth error answered as JSON `{ error, error_description }` (RFC 6749 §5.2, RFC 7591 §3.2.2). */
export class OAuthError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status = 400,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }

  toResponse(): Response {
    const headers: Record<string, string> = { ...this.headers, "content-type": "application/json", "cache-control": "no-store" };
    if (this.status === 401) headers["www-authenticate"] = 'Basic realm="mcpgate"';
    return new Response(JSON.stringify({ error: this.error, error_description: this.description }), { status: this.status, headers });
  }
}
