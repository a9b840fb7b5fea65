-- Curation: notes, highlights, hidden messages, opt-outs, and a log of who did what when.

CREATE TABLE curator_notes (
    id            INTEGER PRIMARY KEY,
    session_id    BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    point         BIGINT,
    -- `platform:platform_msg_id` of the message the note follows, if placed after one.
    after_message TEXT,
    text          TEXT   NOT NULL,
    by_user       TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX curator_notes_by_session ON curator_notes (session_id, created_at, id);

CREATE TABLE highlights (
    message_id BIGINT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    by_user    TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE hidden_messages (
    message_id BIGINT PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    by_user    TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

-- People who asked for their words to be withheld from transcripts, by platform account.
CREATE TABLE opt_outs (
    user_ref   TEXT   PRIMARY KEY,
    created_at BIGINT NOT NULL
);

-- Every curation action, kept: `note`, `highlight`, `unhighlight`, `hide`, `unhide`, `optout`, `optin`.
CREATE TABLE curation_log (
    id         INTEGER PRIMARY KEY,
    session_id BIGINT,
    action     TEXT   NOT NULL,
    target     TEXT,
    by_user    TEXT   NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX curation_log_by_session ON curation_log (session_id, at, id);
