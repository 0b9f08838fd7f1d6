-- Webhooks (issue 15 part 4, "Alerts"): an owner's HTTPS endpoints told about alerts
-- (src/alerts/alert.ts) as they happen, through the WEBHOOKS queue (src/alerts/deliveries.ts).
-- events: JSON array of alert types; presets: JSON array of preset ids, or NULL for every preset.
-- secret_enc: the signing secret (whsec_...), AES-GCM sealed (src/shared/crypto.ts) bound to the
-- webhook's id; shown once, when created or rotated.
CREATE TABLE webhooks (
  id TEXT PRIMARY KEY,
  owner_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  presets TEXT,
  description TEXT,
  enabled INTEGER NOT NULL DEFAULT 1,
  secret_enc TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX webhooks_owner ON webhooks(owner_id, created_at);

-- One alert sent (or being sent) to one webhook: the source of truth for its retries. body is the
-- JSON sent, so a retry sends the same bytes (signed again with a fresh timestamp). A delivery is
-- pending until a 2xx (delivered) or until its retry window is over (failed). One row per
-- (webhook, alert): a queue message delivered twice does not send twice.
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  alert_id TEXT NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_status_code INTEGER,
  last_error TEXT,
  next_attempt_at INTEGER,
  created_at INTEGER NOT NULL,
  delivered_at INTEGER,
  UNIQUE (webhook_id, alert_id)
);
CREATE INDEX webhook_deliveries_list ON webhook_deliveries(webhook_id, created_at, id);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries(created_at);
