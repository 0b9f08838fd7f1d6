/** @module The shapes of the /connections routes: a consumer's own upstream credentials. */
import { z } from "zod";
import { Handle, ServerName, Slug, UpstreamHeaders } from "./schemas";

export const ConnectionParams = z.object({ user: Handle, slug: Slug, server: ServerName });

export const SetConnectionHeadersBody = z.strictObject({
  headers: UpstreamHeaders.describe("A value for every per-user header the server declares (its userHeaders), and no other. Stored encrypted, never returned."),
});

export const Connection = z.object({
  server: z.string().describe("The server's name."),
  owner: z.string().describe("The handle of the server's owner."),
  kind: z.enum(["oauth", "headers"]).describe("oauth: tokens from the upstream's authorization server; headers: your own header values."),
  connectedAt: z.string().describe("ISO 8601 time the credentials were given (or last replaced)."),
  updatedAt: z.string().describe("ISO 8601 time of the last change (a refresh, for tokens)."),
  expiresAt: z.string().nullable().describe("When the access token expires (refreshed automatically); null when unknown or for headers."),
  scope: z.string().nullable(),
  issuer: z.string().nullable().describe("The upstream's authorization server, for oauth."),
  headerNames: z.array(z.string()).describe("For headers: the names set (values are never returned)."),
});
