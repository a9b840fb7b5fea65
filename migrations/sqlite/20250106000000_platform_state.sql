-- Where each platform account's event stream was read up to (a Matrix sync token), kept with
-- the archive so a restart neither re-reads old events nor skips the ones sent meanwhile.
CREATE TABLE sync_cursors (
    platform   TEXT   NOT NULL,
    account    TEXT   NOT NULL,
    cursor     TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (platform, account)
);

-- Commands already carried out, by the platform id of the message that carried them: an event
-- read twice (after a crash between handling it and saving the cursor) acts once.
CREATE TABLE handled_commands (
    platform        TEXT   NOT NULL,
    platform_msg_id TEXT   NOT NULL,
    handled_at      BIGINT NOT NULL,
    PRIMARY KEY (platform, platform_msg_id)
);

-- A message that arrives late (read after a restart or an outage) is archived into the session
-- that was running in its room when it was sent: sessions are looked up by room.
CREATE INDEX session_rooms_by_room ON session_rooms (room);

-- Reactions (Matrix annotations) on archived messages, one row per reaction event: removing a
-- reaction (redacting it) deletes its row.
CREATE TABLE reactions (
    platform             TEXT   NOT NULL,
    platform_reaction_id TEXT   NOT NULL,
    message_id           BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    author_id            TEXT   NOT NULL,
    reaction_key         TEXT   NOT NULL,
    reacted_at           BIGINT NOT NULL,
    PRIMARY KEY (platform, platform_reaction_id)
);
CREATE INDEX reactions_by_message ON reactions (message_id);

-- How to fetch a link when the link alone is not enough: an encrypted Matrix attachment's key
-- and hashes (the `file` object of its event), kept until the copy is made and afterwards, so a
-- copy retried after a restart still decrypts.
CREATE TABLE media_sources (
    url         TEXT   PRIMARY KEY,
    source_json TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
