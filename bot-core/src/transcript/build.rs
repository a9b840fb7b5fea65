//! Building a session's [`Transcript`] from the store.

use std::collections::HashMap;

use crate::chat::Chat;
use crate::engine::answer_tags;
use crate::model::{ChatSnapshot, PostKind, PostStatus, SessionId, StoredMessage};
use crate::plan::INTRO_STEP;
use crate::store::{Mark, Store, StoreError};

use super::{
    AttachmentRecord, Author, ChatRecord, EditRecord, Highlight, HostRecord, MessageRecord,
    NoteRecord, PointRecord, PostRecord, ReactionRecord, SessionRecord, Transcript, SCHEMA_VERSION,
};

/// Why a transcript could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    #[error("there is no session {0}")]
    NoSession(SessionId),
    /// The session predates chat snapshots and its chat is not among the configured chats.
    #[error(
        "session {session} keeps no copy of its chat, and the chat `{slug}` is not among the \
         configured chats: its transcript cannot be built"
    )]
    NoChat { session: SessionId, slug: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The transcript of session `session_id`.
///
/// The chat's text comes from the snapshot kept when the session began; a session without one
/// (it never started, or predates snapshots) uses `fallback`, the chat as configured now, if
/// its slug matches. Points carry the time they were put on screen (from the timeline); posts
/// are the bot's posts that reached their platform; messages are every archived message not
/// deleted, ordered by time sent, then platform, then platform id, with their earlier texts
/// and attachments.
///
/// A message that answers further points with tags of their own (`A1 … A6 …`) lists them in
/// `also_answers`. Curation is applied last ([`apply_curation`]).
pub async fn build(
    store: &Store,
    session_id: SessionId,
    fallback: Option<&Chat>,
) -> Result<Transcript, TranscriptError> {
    let session = store
        .get_session(session_id)
        .await?
        .ok_or(TranscriptError::NoSession(session_id))?;
    let snapshot = match store.session_snapshot(session_id).await? {
        Some(snapshot) => snapshot,
        None => match fallback.filter(|c| c.slug == session.chat_slug) {
            Some(chat) => ChatSnapshot::of(chat),
            None => {
                return Err(TranscriptError::NoChat {
                    session: session_id,
                    slug: session.chat_slug.clone(),
                })
            }
        },
    };
    let n = snapshot.points.len() as u32;
    let wrap_up_step = n + 2;

    let timeline = store.timeline(session_id).await?;
    let emitted_at: HashMap<u32, _> = timeline.iter().map(|(step, _, at)| (*step, *at)).collect();
    let points = snapshot
        .points
        .iter()
        .zip(1..)
        .map(|(text, number)| PointRecord {
            number,
            text: text.clone(),
            posted_at: emitted_at.get(&(number + 1)).copied(),
        })
        .collect();

    let posts = store
        .posts_for_session(session_id)
        .await?
        .into_iter()
        .filter(|p| p.status == PostStatus::Posted)
        .filter_map(|p| {
            let id = p.platform_msg_id?;
            let (kind, point) = match p.content.kind {
                PostKind::Reminder => ("reminder", None),
                PostKind::Intro => ("intro", None),
                PostKind::Point { number } => ("point", Some(number)),
                PostKind::WrapUp => ("wrap_up", None),
                // Notices never enter the outbox.
                PostKind::Notice => return None,
            };
            Some(PostRecord {
                kind: kind.to_owned(),
                point,
                room: p.room.to_string(),
                platform_message_id: id,
                posted_at: p.posted_at.unwrap_or(p.created_at),
            })
        })
        .collect();

    let mut reactions: HashMap<i64, Vec<ReactionRecord>> = HashMap::new();
    for r in store.session_reactions(session_id).await? {
        reactions
            .entry(r.message_id)
            .or_default()
            .push(ReactionRecord {
                key: r.key,
                count: r.count,
            });
    }
    let mut messages: Vec<MessageRecord> = store
        .session_messages(session_id)
        .await?
        .into_iter()
        .filter(|m| m.deleted_at.is_none())
        .map(|m| {
            let mut reacted = reactions.remove(&m.id).unwrap_or_default();
            // Key order as Rust compares strings: the same on every backend and collation.
            reacted.sort_by(|a, b| a.key.cmp(&b.key));
            let mut record = message_record(m);
            record.reactions = reacted;
            record
        })
        .collect();
    messages.sort_by(|a, b| message_order(a).cmp(&message_order(b)));

    let mut transcript = Transcript {
        schema_version: SCHEMA_VERSION,
        chat: ChatRecord {
            slug: snapshot.slug,
            title: snapshot.title,
            hashtag: snapshot.hashtag,
            description: snapshot.description,
            time_zone: snapshot.time_zone,
        },
        session: SessionRecord {
            uid: session.uid,
            state: session.state.as_str().to_owned(),
            scheduled_start: session.scheduled_start,
            started_at: session.started_at,
            ended_at: session.ended_at,
            rooms: session.rooms.iter().map(ToString::to_string).collect(),
            link: store.session_link(session_id).await?,
            host: store
                .session_host(session_id)
                .await?
                .map(|(id, name)| HostRecord { id, name }),
        },
        intro: emitted_at
            .contains_key(&INTRO_STEP)
            .then_some(snapshot.intro),
        points,
        wrap_up: emitted_at
            .contains_key(&wrap_up_step)
            .then_some(snapshot.wrap_up),
        posts,
        messages,
        notes: Vec::new(),
        highlights: Vec::new(),
    };
    apply_curation(store, session_id, &mut transcript).await?;
    for m in &mut transcript.messages {
        if !m.withheld {
            m.also_answers = answer_tags(&m.body)
                .into_iter()
                .filter(|p| (1..=n).contains(p) && m.point != Some(*p))
                .collect();
        }
    }
    Ok(transcript)
}

/// The order of messages in a transcript: time sent, then platform, then platform id.
pub(crate) fn message_order(m: &MessageRecord) -> (chrono::DateTime<chrono::Utc>, &str, &str) {
    (
        m.sent_at,
        m.platform.as_str(),
        m.platform_message_id.as_str(),
    )
}

/// Curation: messages of people who opted out are withheld (text, formatting, edits and
/// attachments replaced by [`super::WITHHELD`]); messages a moderator hid are marked hidden;
/// curator notes and highlights are added, oldest first.
async fn apply_curation(
    store: &Store,
    session_id: SessionId,
    transcript: &mut Transcript,
) -> Result<(), TranscriptError> {
    let opted_out: std::collections::HashSet<String> = store
        .opted_out()
        .await?
        .iter()
        .map(ToString::to_string)
        .collect();
    let hidden: std::collections::HashSet<String> = store
        .marked(Mark::Hidden, session_id)
        .await?
        .iter()
        .map(|m| format!("{}:{}", m.platform, m.platform_msg_id))
        .collect();
    for message in &mut transcript.messages {
        if opted_out.contains(&format!("{}:{}", message.platform, message.author.id)) {
            message.withheld = true;
            message.body = super::WITHHELD.to_owned();
            message.formatted_body = None;
            message.edits.clear();
            message.edited_at = None;
            message.attachments.clear();
        }
        message.hidden = hidden.contains(&message.key());
    }
    transcript.notes = store
        .notes(session_id)
        .await?
        .into_iter()
        .map(|n| NoteRecord {
            text: n.text,
            point: n.point,
            after_message: n.after_message,
            by: n.by.to_string(),
            by_name: n.by_name,
            at: n.at,
        })
        .collect();
    transcript.highlights = store
        .marked(Mark::Highlight, session_id)
        .await?
        .into_iter()
        .map(|h| Highlight {
            message: format!("{}:{}", h.platform, h.platform_msg_id),
            by: h.by.to_string(),
            at: h.at,
        })
        .collect();
    Ok(())
}

fn message_record(stored: StoredMessage) -> MessageRecord {
    let m = stored.message;
    let edited_at = stored.edits.last().map(|e| e.edited_at);
    MessageRecord {
        platform: m.platform.as_str().to_owned(),
        room: m.room,
        platform_message_id: m.platform_msg_id,
        author: Author {
            id: m.author_id,
            name: m.author_name,
            avatar_url: m.avatar_url,
        },
        platform_label: m.platform_label,
        permalink: m.permalink,
        body: m.body,
        formatted_body: m.formatted_body,
        sent_at: m.sent_at,
        point: stored.point,
        also_answers: Vec::new(),
        reply_to: m.reply_to,
        // The store keeps, per edit, the text that edit replaced and when the edit happened:
        // exactly an EditRecord's `body` and `replaced_at`.
        edits: stored
            .edits
            .into_iter()
            .map(|e| EditRecord {
                body: e.body,
                formatted_body: e.formatted_body,
                replaced_at: e.edited_at,
            })
            .collect(),
        edited_at,
        attachments: m
            .attachments
            .into_iter()
            .map(|a| AttachmentRecord {
                url: a.url,
                name: a.name,
                content_type: a.content_type,
                size_bytes: a.size_bytes,
            })
            .collect(),
        reactions: Vec::new(),
        withheld: false,
        hidden: false,
    }
}
