-- What a reader of a transcript wants to know about the people who ran it: who started the
-- session (by command; NULL when the schedule did) and the name a curator had when they wrote
-- a note (NULL for notes from before it was kept: the note is then credited to the id).
ALTER TABLE sessions ADD COLUMN host_user TEXT;
ALTER TABLE sessions ADD COLUMN host_name TEXT;
ALTER TABLE curator_notes ADD COLUMN by_name TEXT;
