-- A copy deleted because a moderator hid its original is made again when they unhide it (while
-- the session runs). The new copy is the row's next round: its idempotency key carries the
-- round, since a platform answers a reused key with the copy it made first, now deleted.
ALTER TABLE relays ADD COLUMN round BIGINT NOT NULL DEFAULT 0;
