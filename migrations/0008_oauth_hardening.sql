-- OAuth hardening (issue 12).
-- Dynamic registrations are counted per client address (an IPv4 address or an IPv6 /64, hashed),
-- and registered clients that never got a grant are deleted after 24 h (src/jobs/retention.ts).
ALTER TABLE oauth_clients ADD COLUMN registered_by TEXT;
CREATE INDEX oauth_clients_registered_by ON oauth_clients(registered_by, created_at);
CREATE INDEX oauth_clients_created ON oauth_clients(created_at);
CREATE INDEX oauth_grants_client ON oauth_grants(client_id);

-- A refresh token's use records the refresh token it gave and that reply, sealed (AES-GCM, bound
-- to the used token), so a second use within 10 s answers the same pair instead of revoking the
-- grant (src/oauth/grants.ts). The retention job clears the sealed reply once the window is over.
ALTER TABLE oauth_refresh_tokens ADD COLUMN successor_hash TEXT;
ALTER TABLE oauth_refresh_tokens ADD COLUMN successor_sealed TEXT;
CREATE INDEX oauth_refresh_sealed ON oauth_refresh_tokens(used_at) WHERE successor_sealed IS NOT NULL;

-- Metadata-document URLs whose fetch failed: not fetched again for 60 s (src/oauth/clients.ts);
-- older rows are deleted by the retention job.
CREATE TABLE oauth_cimd_failures (
  url TEXT PRIMARY KEY,
  failed_at INTEGER NOT NULL
);
CREATE INDEX oauth_cimd_failures_at ON oauth_cimd_failures(failed_at);
