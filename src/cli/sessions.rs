//! `hashchat sessions`: list sessions, those to come apart from those that ran.

use std::fmt::Write;
use std::process::ExitCode;

use bot_core::model::{SessionState, SessionSummary};

use super::common::{database_url, load_config, open_store};
use super::StoreArgs;

pub async fn sessions(args: &StoreArgs) -> anyhow::Result<ExitCode> {
    let (config, _) = load_config(&args.config)?;
    let store = open_store(&database_url(args, &config)).await?;
    let sessions = store.list_sessions().await?;
    print!("{}", listing(&sessions));
    Ok(ExitCode::SUCCESS)
}

/// The two tables: sessions that ran or are running (newest first), then sessions to come
/// (soonest first). Each column is as wide as its widest value, so a long chat slug never
/// pushes a row out of line.
fn listing(sessions: &[SessionSummary]) -> String {
    let to_come = |s: &SessionSummary| {
        matches!(
            s.session.state,
            SessionState::Scheduled | SessionState::Announced
        )
    };
    let ran: Vec<&SessionSummary> = sessions.iter().filter(|s| !to_come(s)).collect();
    let mut upcoming: Vec<&SessionSummary> = sessions.iter().filter(|s| to_come(s)).collect();
    upcoming.sort_by_key(|s| (s.session.scheduled_start, s.session.id));

    let mut out = String::new();
    if sessions.is_empty() {
        out.push_str("No sessions yet.\n");
        return out;
    }
    let past: Vec<[String; 5]> = ran
        .iter()
        .map(|s| {
            let session = &s.session;
            [
                session.id.to_string(),
                session.chat_slug.clone(),
                session
                    .started_at
                    .unwrap_or(session.scheduled_start)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
                session.state.to_string(),
                s.message_count.to_string(),
            ]
        })
        .collect();
    let future: Vec<[String; 5]> = upcoming
        .iter()
        .map(|s| {
            let session = &s.session;
            [
                session.id.to_string(),
                session.chat_slug.clone(),
                session.scheduled_start.format("%Y-%m-%d %H:%M").to_string(),
                session.state.to_string(),
                String::new(),
            ]
        })
        .collect();
    if !past.is_empty() {
        out.push_str("Sessions that ran (newest first):\n");
        table(
            &mut out,
            ["session", "chat", "start (UTC)", "state", "messages"],
            &past,
        );
    }
    if !future.is_empty() {
        if !past.is_empty() {
            out.push('\n');
        }
        out.push_str("Sessions to come (soonest first):\n");
        table(
            &mut out,
            ["session", "chat", "due (UTC)", "state", ""],
            &future,
        );
    }
    out
}

/// Numbers right-aligned (the first and last columns), text left-aligned, two spaces apart.
fn table(out: &mut String, header: [&str; 5], rows: &[[String; 5]]) {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: [&str; 5]| {
        let mut text = String::new();
        for (i, (cell, &w)) in cells.iter().zip(&widths).enumerate() {
            if w == 0 {
                continue;
            }
            if i > 0 {
                text.push_str("  ");
            }
            let pad = " ".repeat(w - cell.chars().count());
            if i == 0 || i == 4 {
                let _ = write!(text, "{pad}{cell}");
            } else {
                let _ = write!(text, "{cell}{pad}");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    for row in rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]].map(String::as_str));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bot_core::model::{Session, SessionOrigin};
    use chrono::{TimeZone, Utc};

    fn summary(
        id: i64,
        slug: &str,
        state: SessionState,
        day: u32,
        messages: i64,
    ) -> SessionSummary {
        SessionSummary {
            session: Session {
                id,
                uid: format!("{id:032x}"),
                chat_slug: slug.to_owned(),
                state,
                origin: SessionOrigin::Recurrence,
                scheduled_start: Utc.with_ymd_and_hms(2026, 12, day, 19, 0, 0).unwrap(),
                started_at: None,
                ended_at: None,
                next_step: 0,
                next_due_at: None,
                paused_remaining_ms: None,
                current_point: None,
                rooms: Vec::new(),
            },
            message_count: messages,
        }
    }

    #[test]
    fn columns_line_up_whatever_the_slug_and_sessions_to_come_are_apart() {
        let sessions = [
            summary(
                12,
                "a-very-long-chat-slug-indeed-for-librarians",
                SessionState::Ended,
                2,
                1234,
            ),
            summary(3, "x", SessionState::Ended, 1, 5),
            summary(14, "x", SessionState::Scheduled, 9, 0),
            summary(13, "x", SessionState::Announced, 8, 0),
        ];
        let text = listing(&sessions);
        let (ran, to_come) = text.split_once("\n\n").expect("two tables");
        let ran: Vec<&str> = ran.lines().skip(1).collect();
        assert!(ran[0].starts_with("session  chat "), "{text}");
        // Every column starts at the same place on every line.
        let state_at: Vec<usize> = ran[1..].iter().map(|l| l.find("ended").unwrap()).collect();
        assert!(state_at.windows(2).all(|w| w[0] == w[1]), "{text}");
        assert!(ran[0].find("state") == Some(state_at[0]), "{text}");
        assert!(
            ran[1].ends_with("1234") && ran[2].ends_with("   5"),
            "{text}"
        );
        assert!(
            ran[1].starts_with("     12") && ran[2].starts_with("      3"),
            "{text}"
        );

        let to_come: Vec<&str> = to_come.lines().collect();
        assert_eq!(to_come[0], "Sessions to come (soonest first):");
        assert!(
            to_come[2].trim_start().starts_with("13 "),
            "soonest first: {text}"
        );
        assert!(to_come[3].trim_start().starts_with("14 "), "{text}");
        assert!(!to_come.iter().any(|l| l.contains("messages")), "{text}");
    }

    #[test]
    fn an_empty_archive_says_so() {
        assert_eq!(listing(&[]), "No sessions yet.\n");
    }
}
