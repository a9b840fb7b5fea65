-- Which instance owns each running or due session (several instances on one PostgreSQL).
-- A lease runs until `expires_at` on the database's clock (milliseconds since 1970); its
-- holder renews it, and another instance may take it once it has expired, with the next
-- `fence`, so a write that carries an older fence can be told it no longer owns the session.
CREATE TABLE session_leases (
    session_id  BIGINT NOT NULL PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    instance_id TEXT   NOT NULL,
    fence       BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX session_leases_by_instance ON session_leases (instance_id);
