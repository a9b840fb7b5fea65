-- Relaying: each participant message of a running session is copied into every other room of
-- the session. One row per (original message, target room): the durable outbox of the copy
-- (pending until posted, keyed so a crash or a platform's second delivery never relays it
-- twice) and, once posted, the map from the original to its copy (how edits, deletions and
-- replies follow, and how the bot knows its own copies when a platform shows them back).
-- The copy's text is kept here, not read from the archive: people who opted out of the archive
-- are still relayed live. It is the text the copy should show: an edit of the original
-- rewrites it, and marks a copy already made `change = 'edit'` until the copy is edited too
-- (`edit_seq` counts the edits, so a copy edited while a newer edit came stays marked); a
-- deletion cancels a copy not yet made and marks one made `change = 'delete'`, then
-- `'deleted'`.
CREATE TABLE relays (
    id              INTEGER PRIMARY KEY,
    session_id      BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    origin_platform TEXT   NOT NULL,
    origin_msg_id   TEXT   NOT NULL,
    target_room     TEXT   NOT NULL,
    target_platform TEXT   NOT NULL,
    content_json    TEXT   NOT NULL,
    status          TEXT   NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    copy_msg_id     TEXT,
    change          TEXT,
    edit_seq        BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    posted_at       BIGINT,
    UNIQUE (origin_platform, origin_msg_id, target_room)
);
CREATE INDEX relays_pending ON relays (target_room, id) WHERE status = 'pending';
CREATE INDEX relays_changed ON relays (target_room, id) WHERE change IN ('edit', 'delete');
CREATE INDEX relays_by_copy ON relays (target_platform, copy_msg_id)
    WHERE copy_msg_id IS NOT NULL;
