-- OAuth hardening (issue 12).
-- Dynamic registrations are counted per client address (an IPv4 address or an IPv6 /64, hashed),
-- and registered clients that never got a grant are deleted after 24 h (src/jobs/retention.ts).
ALTER TABLE oauth_clients ADD COLUMN registered_by TEXT;
CREATE INDEX oauth_clients_registered_by ON oauth_clients(registered_by, created_at);
CREATE INDEX oauth_clients_created ON oauth_clients(created_at);
CREATE INDEX oauth_grants_client ON oauth_grants(client_id);
