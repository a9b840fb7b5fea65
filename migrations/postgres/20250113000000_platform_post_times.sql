-- When the platform itself says a post was sent, where its id carries that (Discord's
-- snowflakes): what a room was shown is then decided on the platform's own clock, the clock
-- its messages' times come from, without the allowance for skew between clocks.
ALTER TABLE outbox ADD COLUMN platform_posted_at BIGINT;
