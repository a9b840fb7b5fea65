-- A command is never lost to a crash: what it changed is recorded in the same transaction as
-- the change (command_effects), so a command read again after a crash knows it already acted,
-- and its claim (handled_commands) follows the effect with the reply it got, so the reply can
-- be sent again if the crash came before it went out.
CREATE TABLE command_effects (
    platform        TEXT   NOT NULL,
    platform_msg_id TEXT   NOT NULL,
    session_id      BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    applied_at      BIGINT NOT NULL,
    PRIMARY KEY (platform, platform_msg_id)
);

ALTER TABLE handled_commands ADD COLUMN reply TEXT;
ALTER TABLE handled_commands ADD COLUMN reply_private BIGINT NOT NULL DEFAULT 0;
ALTER TABLE handled_commands ADD COLUMN replied_at BIGINT;
-- Commands claimed before this migration were claimed before they acted, and whatever reply
-- they got has gone out or never will: they count as answered.
UPDATE handled_commands SET replied_at = handled_at;
