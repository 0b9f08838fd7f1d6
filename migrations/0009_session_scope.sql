-- Upstream session scope per attached server (issue 14): whose upstream MCP session a request
-- goes on. 'shared': one session per server for every client of the preset (stateless
-- upstreams); 'per-caller' (the default): one per authenticated user, or per client session for
-- anonymous callers; 'per-session': one per downstream MCP session. src/upstream/session-scope.ts.
ALTER TABLE preset_servers ADD COLUMN session_scope TEXT NOT NULL DEFAULT 'per-caller';
