-- Usage, stats and audit (issue 6).

-- Per-preset audit switches: log every tools/call (who, which tool, outcome, latency, the
-- arguments' SHA-256), and optionally the arguments themselves.
ALTER TABLE presets ADD COLUMN audit_calls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE presets ADD COLUMN audit_arguments INTEGER NOT NULL DEFAULT 0;

-- Retention deletes events by age; user-level events (tokens, OAuth grants) have no preset.
CREATE INDEX events_time ON events(created_at);

-- Tool-call rollups, flushed by each preset's Durable Object. One row per preset, bucket, exposed
-- tool, upstream and caller; minute buckets (bucket_size 60000) are compacted into hour buckets
-- (3600000) after 48 h. Counts are exact; h00..h16 count latencies per histogram bucket (upper
-- bounds 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 30000, 60000 ms,
-- then everything slower), for calls that reached an upstream (latency_count of them).
-- `upstream` is '' for calls that never resolved to one; `caller` is a user id or 'anonymous'.
CREATE TABLE usage_rollups (
  preset_id TEXT NOT NULL,
  bucket_start INTEGER NOT NULL,
  bucket_size INTEGER NOT NULL,
  tool TEXT NOT NULL,
  upstream TEXT NOT NULL,
  caller TEXT NOT NULL,
  calls INTEGER NOT NULL DEFAULT 0,
  ok INTEGER NOT NULL DEFAULT 0,
  tool_error INTEGER NOT NULL DEFAULT 0,
  upstream_error INTEGER NOT NULL DEFAULT 0,
  timeout INTEGER NOT NULL DEFAULT 0,
  rate_limited INTEGER NOT NULL DEFAULT 0,
  breaker_open INTEGER NOT NULL DEFAULT 0,
  denied INTEGER NOT NULL DEFAULT 0,
  cancelled INTEGER NOT NULL DEFAULT 0,
  latency_count INTEGER NOT NULL DEFAULT 0,
  latency_sum INTEGER NOT NULL DEFAULT 0,
  latency_max INTEGER NOT NULL DEFAULT 0,
  request_bytes INTEGER NOT NULL DEFAULT 0,
  response_bytes INTEGER NOT NULL DEFAULT 0,
  h00 INTEGER NOT NULL DEFAULT 0,
  h01 INTEGER NOT NULL DEFAULT 0,
  h02 INTEGER NOT NULL DEFAULT 0,
  h03 INTEGER NOT NULL DEFAULT 0,
  h04 INTEGER NOT NULL DEFAULT 0,
  h05 INTEGER NOT NULL DEFAULT 0,
  h06 INTEGER NOT NULL DEFAULT 0,
  h07 INTEGER NOT NULL DEFAULT 0,
  h08 INTEGER NOT NULL DEFAULT 0,
  h09 INTEGER NOT NULL DEFAULT 0,
  h10 INTEGER NOT NULL DEFAULT 0,
  h11 INTEGER NOT NULL DEFAULT 0,
  h12 INTEGER NOT NULL DEFAULT 0,
  h13 INTEGER NOT NULL DEFAULT 0,
  h14 INTEGER NOT NULL DEFAULT 0,
  h15 INTEGER NOT NULL DEFAULT 0,
  h16 INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (preset_id, bucket_start, bucket_size, tool, upstream, caller)
);
CREATE INDEX usage_rollups_age ON usage_rollups(bucket_size, bucket_start);

-- One row per applied rollup flush: a flush retried after D1 committed it (but the Durable
-- Object never heard back) hits this primary key, and its whole batch is refused.
CREATE TABLE usage_flushes (
  id TEXT PRIMARY KEY,
  preset_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX usage_flushes_time ON usage_flushes(created_at);

-- The optional per-preset call log (presets.audit_calls). `arguments` only with audit_arguments,
-- cut to 8 KiB (arguments_truncated = 1). `client_ip` only for anonymous callers.
CREATE TABLE call_log (
  id TEXT PRIMARY KEY,
  preset_id TEXT NOT NULL,
  user_id TEXT,
  client_ip TEXT,
  tool TEXT NOT NULL,
  upstream TEXT,
  outcome TEXT NOT NULL,
  latency_ms INTEGER NOT NULL,
  request_bytes INTEGER NOT NULL,
  response_bytes INTEGER NOT NULL,
  arguments_sha256 TEXT NOT NULL,
  arguments TEXT,
  arguments_truncated INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE INDEX call_log_preset_time ON call_log(preset_id, created_at DESC, id DESC);
CREATE INDEX call_log_time ON call_log(created_at);
