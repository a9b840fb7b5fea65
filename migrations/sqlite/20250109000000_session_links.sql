-- Where a session took place, when its platform gave it a place of its own (a Discord thread):
-- a label as people know it and an http(s) link, recorded by the adapter that made the place
-- (the core builds no platform's links). Sessions without one keep NULLs.
ALTER TABLE sessions ADD COLUMN link_label TEXT;
ALTER TABLE sessions ADD COLUMN link_url TEXT;
