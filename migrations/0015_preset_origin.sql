-- Fork, clone, export and import of presets (issue 16 part 5): where a forked preset came from,
-- as "<handle>/<slug>" at the time of the fork. Informational only: a fork is an independent copy
-- and nothing reads the original through this column.
ALTER TABLE presets ADD COLUMN forked_from TEXT;
