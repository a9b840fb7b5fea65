-- The archive at scale: the index pages sessions in SQL (newest start first, optionally one
-- chat's), and counts each listed session's messages from an index rather than the table.
CREATE INDEX sessions_by_started ON sessions (started_at, id) WHERE started_at IS NOT NULL;
CREATE INDEX sessions_by_chat_started ON sessions (chat_slug, started_at, id)
    WHERE started_at IS NOT NULL;
CREATE INDEX messages_live_by_session ON messages (session_id) WHERE deleted_at IS NULL;
