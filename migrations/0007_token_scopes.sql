-- What an API token may do: 'manage' (the management API and the MCP endpoints, what every token
-- before this migration could do) or 'mcp' (the MCP endpoints only, for tokens pasted into client
-- configurations).
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'manage';
