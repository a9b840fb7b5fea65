-- Transcripts: a stable uid per session, and the chat as it was when the session began.
-- Kept column-for-column in step with ../postgres.

-- Every session gets a random 32-hex-digit uid: its identity in exports, imports and URLs.
-- SQLite cannot add a NOT NULL column without a default; the store always writes it and reads
-- a NULL back as corruption.
ALTER TABLE sessions ADD COLUMN uid TEXT;
UPDATE sessions SET uid = lower(hex(randomblob(16))) WHERE uid IS NULL;
CREATE UNIQUE INDEX sessions_by_uid ON sessions (uid);

-- The chat's text as it stood when the session's intro was emitted (written in the same
-- transaction as that step), so a later edit of the chat file does not rewrite history.
-- points_json is a JSON array of the point texts, Q1 first.
CREATE TABLE session_snapshots (
    session_id  BIGINT NOT NULL PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    chat_slug   TEXT   NOT NULL,
    title       TEXT   NOT NULL,
    hashtag     TEXT   NOT NULL,
    description TEXT   NOT NULL,
    time_zone   TEXT   NOT NULL,
    intro       TEXT   NOT NULL,
    wrap_up     TEXT   NOT NULL,
    points_json TEXT   NOT NULL,
    taken_at    BIGINT NOT NULL
);
