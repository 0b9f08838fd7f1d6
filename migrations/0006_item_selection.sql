-- Which prompts and resources an attached server exposes, like `tools`: a JSON array of upstream
-- prompt names / of upstream resource URIs and URI templates, or NULL for all of them.
ALTER TABLE preset_servers ADD COLUMN prompts TEXT;
ALTER TABLE preset_servers ADD COLUMN resources TEXT;
