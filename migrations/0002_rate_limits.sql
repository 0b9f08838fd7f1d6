-- Per-preset rate limits (JSON {"requests": n, "windowSeconds": s}; NULL = the default 100/60 s)
-- and per-tool overrides (JSON {"<exposed tool>": {"requests", "windowSeconds"}}; NULL = none).
ALTER TABLE presets ADD COLUMN rate_limit TEXT;
ALTER TABLE presets ADD COLUMN tool_limits TEXT;
