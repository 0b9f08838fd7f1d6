-- Tool pinning (issue 15): each preset's Durable Object pins the definitions of the tools, prompts
-- and resource templates the owner exposed, and holds changed ones for review (src/pinning/).
-- pinning 'off' serves whatever the upstreams list (for trusted private upstreams); new_tools says
-- what happens to an item no pin covers once a server's pins were taken: 'hold' (the default) or
-- 'expose'.
ALTER TABLE presets ADD COLUMN pinning TEXT NOT NULL DEFAULT 'on' CHECK (pinning IN ('on', 'off'));
ALTER TABLE presets ADD COLUMN new_tools TEXT NOT NULL DEFAULT 'hold' CHECK (new_tools IN ('hold', 'expose'));
