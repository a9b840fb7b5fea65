-- Full-text search over message bodies: an expression GIN index that
-- Store::search_messages queries with `to_tsvector('simple', body) @@ plainto_tsquery(...)`.
-- Deleted, hidden and opted-out messages are filtered out by the query.
CREATE INDEX messages_body_fts ON messages USING GIN (to_tsvector('simple', body));
