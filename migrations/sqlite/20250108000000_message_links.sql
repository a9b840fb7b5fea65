-- What a transcript needs to link a message back to where it was written: the platform's name
-- as people know it and a link to the message, recorded by the adapter that captured it (the
-- core builds no platform's links).
ALTER TABLE messages ADD COLUMN platform_label TEXT;
ALTER TABLE messages ADD COLUMN permalink TEXT;

-- Messages archived before adapters recorded these get what transcripts showed for them until
-- now: the platforms' names, and for Matrix the matrix.to link, its room and event ids
-- percent-encoded as the renderer did (RFC 3986 components; `!` kept) for every character that
-- Matrix ids use.
UPDATE messages SET platform_label = CASE platform
    WHEN 'discord' THEN 'Discord'
    WHEN 'matrix' THEN 'Matrix'
    WHEN 'web' THEN 'Web'
    WHEN 'loopback' THEN 'Loopback'
    ELSE platform END;
UPDATE messages SET permalink = 'https://matrix.to/#/'
    || replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
       replace(room, '%', '%25'), ':', '%3A'), '$', '%24'), '#', '%23'), '/', '%2F'), '+', '%2B'),
       '=', '%3D'), '@', '%40'), '?', '%3F'), '&', '%26'), '[', '%5B'), ']', '%5D')
    || '/'
    || replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
       replace(platform_msg_id, '%', '%25'), ':', '%3A'), '$', '%24'), '#', '%23'), '/', '%2F'),
       '+', '%2B'), '=', '%3D'), '@', '%40'), '?', '%3F'), '&', '%26'), '[', '%5B'), ']', '%5D')
    WHERE platform = 'matrix';
