-- hashchat store, SQLite flavour. Kept column-for-column in step with ../postgres.
-- Timestamps are unix milliseconds (BIGINT), flags and counters are integers, and every id is
-- allocated by the database. Enumerations (states, statuses) are stored as lowercase text and
-- validated when read, so a bad value surfaces as StoreError::Corrupt rather than a panic.

CREATE TABLE sessions (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_slug           TEXT    NOT NULL,
    state               TEXT    NOT NULL,
    origin              TEXT    NOT NULL,
    scheduled_start     BIGINT  NOT NULL,
    started_at          BIGINT,
    ended_at            BIGINT,
    next_step           BIGINT  NOT NULL,
    next_due_at         BIGINT,
    paused_remaining_ms BIGINT,
    current_point       BIGINT,
    created_at          BIGINT  NOT NULL
);
-- A recurrence materialises each occurrence once, however often the scheduler looks.
CREATE UNIQUE INDEX sessions_recurrence_once
    ON sessions (chat_slug, scheduled_start) WHERE origin = 'recurrence';
CREATE INDEX sessions_by_state_due ON sessions (state, next_due_at);
CREATE INDEX sessions_by_start ON sessions (scheduled_start);

CREATE TABLE session_rooms (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    position   BIGINT NOT NULL,
    room       TEXT   NOT NULL,
    PRIMARY KEY (session_id, position)
);

CREATE TABLE session_timeline (
    session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    step       BIGINT NOT NULL,
    point      BIGINT,
    emitted_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, step)
);

CREATE TABLE outbox (
    session_id      BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    step            BIGINT NOT NULL,
    room            TEXT   NOT NULL,
    position        BIGINT NOT NULL,
    platform        TEXT   NOT NULL,
    content_json    TEXT   NOT NULL,
    status          TEXT   NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    platform_msg_id TEXT,
    created_at      BIGINT NOT NULL,
    posted_at       BIGINT,
    PRIMARY KEY (session_id, step, room)
);
CREATE INDEX outbox_pending ON outbox (session_id, step, position) WHERE status = 'pending';
CREATE INDEX outbox_by_platform_id ON outbox (platform, platform_msg_id)
    WHERE platform_msg_id IS NOT NULL;

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    session_id      BIGINT  NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    point           BIGINT,
    platform        TEXT    NOT NULL,
    room            TEXT    NOT NULL,
    platform_msg_id TEXT    NOT NULL,
    author_id       TEXT    NOT NULL,
    author_name     TEXT    NOT NULL,
    avatar_url      TEXT,
    body            TEXT    NOT NULL,
    formatted_body  TEXT,
    sent_at         BIGINT  NOT NULL,
    reply_to        TEXT,
    edited_at       BIGINT,
    deleted_at      BIGINT,
    UNIQUE (platform, platform_msg_id)
);
CREATE INDEX messages_by_session ON messages (session_id, sent_at, id);

-- One row per edit: the text as it was before the edit, and when the edit happened.
CREATE TABLE message_edits (
    id             INTEGER PRIMARY KEY,
    message_id     BIGINT  NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    body           TEXT    NOT NULL,
    formatted_body TEXT,
    edited_at      BIGINT  NOT NULL
);
CREATE INDEX message_edits_by_message ON message_edits (message_id, edited_at, id);

CREATE TABLE attachments (
    message_id   BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position     BIGINT NOT NULL,
    url          TEXT   NOT NULL,
    name         TEXT   NOT NULL,
    content_type TEXT,
    size_bytes   BIGINT,
    PRIMARY KEY (message_id, position)
);

CREATE TABLE rsvps (
    id         INTEGER PRIMARY KEY,
    chat_slug  TEXT   NOT NULL,
    user_ref   TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (chat_slug, user_ref)
);
