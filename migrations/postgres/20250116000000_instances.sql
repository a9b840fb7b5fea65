-- Every `hashchat run` registers itself and beats every few seconds with how its platforms
-- are (JSON), so `hashchat status`, run anywhere, shows every instance on this database.
-- Times are the database's own clock (milliseconds since 1970).
CREATE TABLE instances (
    id             TEXT   PRIMARY KEY,
    host           TEXT   NOT NULL,
    pid            BIGINT NOT NULL,
    version        TEXT   NOT NULL,
    started_at     BIGINT NOT NULL,
    heartbeat_at   BIGINT NOT NULL,
    stopped_at     BIGINT,
    platforms_json TEXT   NOT NULL DEFAULT '[]'
);
