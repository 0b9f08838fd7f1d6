-- Alert detectors per preset (issue 15): error_rate.high, rate_limit.surge, upstream.unreachable.
-- JSON of the detectors the owner set, each an object of its thresholds or false (off); null, or a
-- detector left out, means its default (src/db/schema.ts DEFAULT_ALERTS).
ALTER TABLE presets ADD COLUMN alert_thresholds TEXT;
