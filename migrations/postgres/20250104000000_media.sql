-- Links (attachments, avatars) copied into the local media store, or found uncopyable.
CREATE TABLE media (
    url          TEXT   PRIMARY KEY,
    sha256       TEXT,
    content_type TEXT,
    size_bytes   BIGINT,
    error        TEXT,
    copied_at    BIGINT NOT NULL
);
