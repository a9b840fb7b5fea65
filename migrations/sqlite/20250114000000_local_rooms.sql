-- Rooms hashchat hosts itself (the browser room): what each room was shown, in order, so a
-- page that reconnects carries on from the last event it saw, and who joined from a browser.

-- The last number given out in each room: taking the next one locks the row, so numbers are
-- consecutive and an event is committed before any later one is.
CREATE TABLE local_room_heads (
    room TEXT PRIMARY KEY,
    last_seq BIGINT NOT NULL
);

CREATE TABLE local_room_events (
    room TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    -- The session it belongs to, when it belongs to one.
    session_uid TEXT,
    -- The one person it is shown to (an answer meant for them alone); NULL: everyone.
    audience TEXT,
    -- What the hosting adapter needs to show it (JSON; the core never looks inside).
    body TEXT NOT NULL,
    -- Stable across retries: an event appended twice with one key is kept once.
    idempotency_key TEXT UNIQUE,
    at BIGINT NOT NULL,
    PRIMARY KEY (room, seq)
);
CREATE INDEX local_room_events_by_session ON local_room_events (room, session_uid, seq);

-- A browser's sign-in: the cookie's token is kept only as its SHA-256.
CREATE TABLE local_accounts (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE,
    moderator BIGINT NOT NULL DEFAULT 0,
    blocked BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- The name each account goes by in each room it joined. A name is held while its holder was
-- seen recently; `name_key` is the name as compared (case and spacing folded).
CREATE TABLE local_members (
    room TEXT NOT NULL,
    user_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (room, user_id)
);
CREATE UNIQUE INDEX local_members_by_name ON local_members (room, name_key);
