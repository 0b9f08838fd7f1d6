-- How a preset exposes its tools: "prefixed" (<server>__<tool>, the default) or "plain" (upstream names).
ALTER TABLE presets ADD COLUMN tool_naming TEXT NOT NULL DEFAULT 'prefixed';
-- Per-tool overrides on an attached server: JSON {"<upstream tool>": {"name"?, "description"?}}.
ALTER TABLE preset_servers ADD COLUMN overrides TEXT;
