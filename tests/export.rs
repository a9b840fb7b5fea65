//! `hashchat export` and `hashchat import` from the outside: a demo session exported as JSON,
//! imported into a second database and exported again gives the same bytes; Markdown has every
//! point; bad files are refused with their path and reason, and nothing is written.

mod support;

use support::{text, Scratch};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// A scratch directory whose database holds one finished demo session.
fn demo_db() -> Scratch {
    let scratch = Scratch::new();
    let chat = format!("{REPO}/config/chats/interlibnet.toml");
    let output = scratch.output(&[
        "demo",
        "--speed",
        "1500",
        "--db",
        &scratch.db_url(),
        "--chat",
        &chat,
    ]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    scratch
}

fn second_db(scratch: &Scratch) -> String {
    format!("sqlite://{}", scratch.path("second.db").display())
}

#[test]
fn json_export_import_export_is_byte_identical_and_markdown_has_every_point() {
    let scratch = demo_db();
    let db = scratch.db_url();
    let out = scratch.path("one.json");
    let output = scratch.output(&[
        "export",
        "1",
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
        "--db",
        &db,
    ]);
    assert!(output.status.success(), "{:?}", text(&output));
    let first = std::fs::read_to_string(&out).unwrap();
    assert!(first.starts_with("{\n  \"schema_version\": 2,"));
    // No temporary file is left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(scratch.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());

    // The same to stdout, and by uid.
    let doc: serde_json::Value = serde_json::from_str(&first).unwrap();
    let uid = doc["session"]["uid"].as_str().unwrap().to_owned();
    let output = scratch.output(&["export", &uid, "--format", "json", "--db", &db]);
    assert_eq!(String::from_utf8(output.stdout).unwrap(), first);

    let second = second_db(&scratch);
    let output = scratch.output(&["import", out.to_str().unwrap(), "--db", &second]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    let id = stdout.trim().to_owned();
    assert_eq!(id, "1");
    let output = scratch.output(&["export", &id, "--format", "json", "--db", &second]);
    assert!(output.status.success(), "{:?}", text(&output));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        first,
        "not byte-identical"
    );

    // Importing it again is refused, saying where it already is.
    let output = scratch.output(&["import", out.to_str().unwrap(), "--db", &second]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("already here") && stderr.contains("session 1"),
        "{stderr}"
    );

    let output = scratch.output(&["export", "1", "--format", "md", "--db", &db]);
    let (md, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        md.starts_with("# Libraries and social media (#interlibnet)"),
        "{md}"
    );
    let mut last = 0;
    for n in 1..=6 {
        let at = md
            .find(&format!("\n## Q{n} "))
            .unwrap_or_else(|| panic!("Q{n} missing:\n{md}"));
        assert!(at > last, "Q{n} out of order");
        last = at;
    }
}

#[test]
fn the_html_export_is_one_self_contained_page_with_every_point() {
    let scratch = demo_db();
    let db = scratch.db_url();
    let out = scratch.path("session.html");
    let output = scratch.output(&[
        "export",
        "1",
        "--format",
        "html",
        "--out",
        out.to_str().unwrap(),
        "--db",
        &db,
    ]);
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let html = support::read(&out);
    assert!(
        html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"),
        "{}",
        &html[..80.min(html.len())]
    );
    for n in 1..=6 {
        assert!(
            html.contains(&format!("id=\"q{n}\"")),
            "section Q{n} missing"
        );
    }
    assert!(html.contains("Ada (demo)"));
    assert!(
        !html.contains("src=\"http") && !html.contains("<link"),
        "no request to anywhere"
    );
}

#[test]
fn unknown_sessions_and_formats_fail() {
    let scratch = Scratch::new();
    let db = scratch.db_url();
    let output = scratch.output(&["export", "42", "--format", "json", "--db", &db]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(stderr.contains("there is no session `42`"), "{stderr}");

    let output = scratch.output(&["export", "1", "--format", "pdf", "--db", &db]);
    assert!(!output.status.success());
}

#[test]
fn bad_files_are_refused_with_path_and_reason_and_nothing_is_written() {
    let scratch = Scratch::new();
    let db = scratch.db_url();
    let cases = [
        (
            "not-json.json",
            "this is not json".to_owned(),
            "(document): expected ident at line 1 column 2",
        ),
        (
            "version.json",
            "{\"schema_version\": 99}".to_owned(),
            "schema_version: version 99 is not supported (accepted: 1, 2)",
        ),
        (
            "type.json",
            "{\"schema_version\": 1, \"chat\": {\"slug\": 5}}".to_owned(),
            "chat.slug: invalid type",
        ),
    ];
    for (name, body, expected) in cases {
        let path = scratch.write(name, &body);
        let output = scratch.output(&["import", path.to_str().unwrap(), "--db", &db]);
        let (stdout, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stdout.is_empty());
        assert!(
            stderr.contains(&format!("{name}: ")) && stderr.contains(expected),
            "{stderr}"
        );
        assert!(stderr.contains("nothing was imported"), "{stderr}");
    }
    // Nothing was written: the database was never even created.
    assert!(!scratch.path("hashchat.db").exists());
}

#[test]
fn an_inconsistent_document_lists_every_problem() {
    let scratch = demo_db();
    let output = scratch.output(&["export", "1", "--format", "json", "--db", &scratch.db_url()]);
    let mut doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    doc["points"][0]["number"] = 7.into();
    doc["messages"][0]["platform"] = "myspace".into();
    let path = scratch.write("bad.json", &doc.to_string());
    let second = second_db(&scratch);
    let output = scratch.output(&["import", path.to_str().unwrap(), "--db", &second]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("bad.json: points[0].number: is 7, expected 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("bad.json: messages[0].platform: unknown platform `myspace`"),
        "{stderr}"
    );
    assert!(!scratch.path("second.db").exists());
}

/// `export --all DIR` then `import DIR` into an empty database: every session comes back with
/// its uid and its transcript byte for byte, the sessions to come are scheduled again, and a
/// second restore, a non-empty directory or a damaged backup are refused.
#[test]
fn a_whole_backup_restores_into_an_empty_database() {
    let scratch = demo_db();
    let db = scratch.db_url();
    // A picture someone shared, copied into the media store as the bot does.
    let picture = b"\x89PNG\r\n\x1a\n a picture".to_vec();
    let hash = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = bot_core::store::Store::connect(&db).await.unwrap();
        let media = bot_core::media::MediaStore::open(scratch.path("data/media")).unwrap();
        let hash = media.put(&picture).unwrap();
        let url = "https://example.org/picture.png";
        let session = store.list_sessions().await.unwrap()[0].session.clone();
        store
            .append_messages(&[bot_core::model::ArchivedMessage {
                session_id: session.id,
                point: Some(1),
                message: bot_core::model::IncomingMessage {
                    platform: bot_core::ids::Platform::Loopback,
                    room: "room".into(),
                    platform_msg_id: "with-a-picture".into(),
                    author_id: "ada".into(),
                    author_name: "Ada".into(),
                    avatar_url: None,
                    body: "A1: look".into(),
                    formatted_body: None,
                    sent_at: session.started_at.unwrap() + chrono::Duration::seconds(5),
                    reply_to: None,
                    attachments: vec![bot_core::model::Attachment {
                        url: url.into(),
                        name: "picture.png".into(),
                        content_type: Some("image/png".into()),
                        size_bytes: Some(picture.len() as i64),
                    }],
                    platform_label: None,
                    permalink: None,
                },
            }])
            .await
            .unwrap();
        store
            .record_media_copy(&bot_core::store::MediaCopy {
                url: url.into(),
                sha256: Some(hash.clone()),
                content_type: Some("image/png".into()),
                size_bytes: Some(picture.len() as i64),
                error: None,
                at: chrono::Utc::now(),
            })
            .await
            .unwrap();
        hash
    });
    // The example chat's next session, put on the calendar by a run of the bot.
    scratch.write(
        "chats/interlibnet.toml",
        &std::fs::read_to_string(format!("{REPO}/config/chats/interlibnet.toml")).unwrap(),
    );
    let config = scratch.write_config();
    std::fs::write(
        &config,
        support::read(&config) + "\n[web]\nenabled = false\n",
    )
    .unwrap();
    let mut bot = scratch.spawn(&["run", "--config", config.to_str().unwrap()], "run.log");
    support::wait_for(
        std::time::Duration::from_secs(60),
        "the next session",
        || {
            text(&scratch.output(&["sessions", "--db", &db]))
                .0
                .contains("scheduled")
        },
    );
    bot.kill().unwrap();
    bot.wait().unwrap();
    let dir = scratch.path("backup");
    let output = scratch.output(&["export", "--all", dir.to_str().unwrap(), "--db", &db]);
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("backup.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "hashchat-backup");
    let uids: Vec<String> = manifest["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    assert!(!uids.is_empty(), "{manifest}");

    assert_eq!(manifest["media"][0]["sha256"], hash.as_str(), "{manifest}");
    assert_eq!(
        manifest["upcoming"].as_array().unwrap().len(),
        1,
        "{manifest}"
    );

    // Restored elsewhere: its own database and media store.
    let second = second_db(&scratch);
    let restore = scratch.write(
        "restore.toml",
        &format!(
            "[database]\nurl = \"{second}\"\n[data]\ndir = \"{}\"\n",
            scratch.path("restored").display()
        ),
    );
    let output = scratch.output(&[
        "import",
        dir.to_str().unwrap(),
        "--config",
        restore.to_str().unwrap(),
    ]);
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("restored {} sessions", uids.len())),
        "{stderr}"
    );
    let restored = bot_core::media::MediaStore::open(scratch.path("restored/media")).unwrap();
    assert_eq!(
        restored.read(&hash).unwrap(),
        picture,
        "the picture, in the new media store"
    );
    // And the restored page shows it, inlined from there.
    let page = scratch.output(&[
        "export",
        &uids[0],
        "--format",
        "html",
        "--config",
        restore.to_str().unwrap(),
    ]);
    assert!(
        text(&page).0.contains("data:image/png;base64,"),
        "the picture inlined"
    );
    for uid in &uids {
        let export = |db: &str| {
            let out = scratch.output(&["export", uid, "--format", "json", "--db", db]);
            assert!(out.status.success(), "{:?}", text(&out));
            text(&out).0
        };
        assert_eq!(export(&second), export(&db), "session {uid}");
    }
    let upcoming = |db: &str| -> Vec<String> {
        let out = scratch.output(&["sessions", "--db", db]);
        text(&out)
            .0
            .lines()
            .filter(|l| l.contains("scheduled") || l.contains("announced"))
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
            .collect()
    };
    assert_eq!(
        upcoming(&second).len(),
        manifest["upcoming"].as_array().unwrap().len()
    );
    assert_eq!(
        upcoming(&second),
        upcoming(&db),
        "the sessions to come, again"
    );

    let again = scratch.output(&["import", dir.to_str().unwrap(), "--db", &second]);
    assert!(!again.status.success());
    assert!(
        text(&again).1.contains("already holds sessions"),
        "{:?}",
        text(&again)
    );
    let into_full = scratch.output(&["export", "--all", dir.to_str().unwrap(), "--db", &db]);
    assert!(!into_full.status.success());
    assert!(
        text(&into_full).1.contains("is not empty"),
        "{:?}",
        text(&into_full)
    );

    // A damaged backup: nothing is written.
    let file = dir.join("sessions").join(format!("{}.json", uids[0]));
    std::fs::write(&file, "{ not json").unwrap();
    let third = format!("sqlite://{}", scratch.path("third.db").display());
    let damaged = scratch.output(&["import", dir.to_str().unwrap(), "--db", &third]);
    let (_, stderr) = text(&damaged);
    assert!(!damaged.status.success());
    assert!(stderr.contains(&format!("{}.json", uids[0])), "{stderr}");
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    let listed = scratch.output(&["sessions", "--db", &third]);
    assert!(
        !text(&listed).0.contains("interlibnet"),
        "{:?}",
        text(&listed)
    );
}
