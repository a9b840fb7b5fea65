//! Attachments and avatars are copied into the local media store when they arrive, within the
//! size limit, and exported pages show the copies inline.

mod engine_support;

use std::sync::Arc;

use bot_core::media::{HttpFetcher, InlineMedia, MediaCopier, MediaStore};
use bot_core::model::Attachment;
use bot_core::render::html::{render, HtmlOptions};
use engine_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A one-pixel PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// Serves `/photo.png`, `/avatar.png`, a `/big` file over the limit (with a truthful length),
/// `/sneaky` (over the limit with no length header) and `/stalled` (never answered); everything
/// else is 404.
async fn media_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = vec![0u8; 4096];
                let n = socket.read(&mut request).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&request[..n]).into_owned();
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
                if path == "/stalled" {
                    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                    return;
                }
                let (head, body): (String, Vec<u8>) = match path.as_str() {
                    "/photo.png" | "/avatar.png" => (
                        format!("HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", PNG.len()),
                        PNG.to_vec(),
                    ),
                    "/big" => (
                        "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n".into(),
                        vec![0; 5000],
                    ),
                    "/sneaky" => (
                        "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n\r\n".into(),
                        vec![1; 5000],
                    ),
                    _ => ("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(), Vec::new()),
                };
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{address}")
}

fn attachment(url: String, name: &str) -> Attachment {
    Attachment {
        url,
        name: name.into(),
        content_type: None,
        size_bytes: None,
    }
}

#[tokio::test]
async fn media_is_copied_within_the_limit_and_inlined_in_the_exported_page() {
    let base = media_server().await;
    let world = World::new(chat()).await;
    let media = MediaStore::open(world.dir.path().join("media")).unwrap();
    let fetcher = Arc::new(HttpFetcher::new().unwrap());
    let (copier, _task) = MediaCopier::start(
        world.engine.store().clone(),
        media.clone(),
        vec![fetcher],
        1024,
    );
    world.engine.set_media_copier(copier.clone());

    world.command(MODERATOR, "start interlibnet").await;
    world.run_until(t0() + minutes(3)).await;
    let mut message = world.loopback.message(
        ROOM,
        "ann",
        "Ann",
        "A1 our display",
        world.clock_now(),
        None,
    );
    message.avatar_url = Some(format!("{base}/avatar.png"));
    message.attachments = vec![
        attachment(format!("{base}/photo.png"), "photo.png"),
        attachment(format!("{base}/big"), "big.zip"),
        attachment(format!("{base}/sneaky"), "sneaky.png"),
        attachment(format!("{base}/gone"), "gone.png"),
        attachment("ftp://example.org/x".into(), "x"),
    ];
    world.engine.archive_message(message).await.unwrap();
    copier.flush().await;

    let store = world.engine.store();
    let photo = store
        .media_copy(&format!("{base}/photo.png"))
        .await
        .unwrap()
        .expect("photo copied");
    let sha = photo.sha256.clone().expect("a hash");
    assert_eq!(media.read(&sha).unwrap(), PNG);
    assert_eq!(photo.content_type.as_deref(), Some("image/png"));
    assert_eq!(photo.size_bytes, Some(PNG.len() as i64));
    let avatar = store
        .media_copy(&format!("{base}/avatar.png"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(avatar.sha256, Some(sha), "the same bytes are kept once");
    for (url, why) in [
        ("big", "larger than"),
        ("sneaky", "larger than"),
        ("gone", "404"),
    ] {
        let copy = store
            .media_copy(&format!("{base}/{url}"))
            .await
            .unwrap()
            .expect(url);
        assert!(copy.sha256.is_none(), "{url}");
        assert!(
            copy.error.as_deref().unwrap_or("").contains(why),
            "{url}: {:?}",
            copy.error
        );
    }
    assert!(store
        .media_copy("ftp://example.org/x")
        .await
        .unwrap()
        .unwrap()
        .error
        .unwrap()
        .contains("no fetcher"));

    world.command(MODERATOR, "stop").await;
    let session = store.list_sessions().await.unwrap()[0].session.id;
    let transcript = bot_core::transcript::build(store, session, None)
        .await
        .unwrap();
    let inline = InlineMedia::load(store, &media, &transcript).await.unwrap();
    assert_eq!(inline.len(), 2, "the photo and the avatar");
    let mut options = HtmlOptions::new(t0());
    options.media = Some(Arc::new(inline));
    let mut page = Vec::new();
    render(&transcript, &options, &mut page).unwrap();
    let page = String::from_utf8(page).unwrap();
    assert!(
        page.contains("data:image/png;base64,"),
        "the copy is inlined"
    );
    assert!(
        !page.contains(&format!("src=\"{base}")),
        "no request to the original host"
    );
}

#[tokio::test]
async fn a_relayed_message_carries_the_media_stores_copy_of_each_attachment_it_has() {
    let base = media_server().await;
    let mut chat = chat();
    chat.rooms.push(bot_core::ids::RoomRef::new(
        bot_core::ids::Platform::Loopback,
        "other",
    ));
    let world = World::new(chat).await;
    let media = MediaStore::open(world.dir.path().join("media")).unwrap();
    let fetcher = Arc::new(HttpFetcher::new().unwrap());
    let (copier, _task) = MediaCopier::start(
        world.engine.store().clone(),
        media.clone(),
        vec![fetcher],
        1024,
    );
    world.engine.set_media_copier(copier);
    world.command(MODERATOR, "start interlibnet").await;
    world.run_until(t0() + minutes(3)).await;
    let mut message =
        world
            .loopback
            .message(ROOM, "ann", "Ann", "A1 look", world.clock_now(), None);
    message.attachments = vec![
        attachment(format!("{base}/photo.png"), "photo.png"),
        attachment(format!("{base}/big"), "big.zip"),
    ];
    // Delivered at once, before the background copy could have finished: the copy waits for
    // it rather than going without.
    event(&world.engine, bot_core::adapter::Inbound::Message(message)).await;
    world.engine.tick().await.unwrap();
    let files: Vec<Vec<String>> = world
        .loopback
        .history()
        .into_iter()
        .filter_map(|e| match e {
            bot_core::loopback::LoopbackEvent::Relay { room, files, .. } if room == "other" => {
                Some(files)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        files,
        [vec![
            format!("photo.png ({} bytes)", PNG.len()),
            "big.zip (no copy)".to_owned()
        ]]
    );
}

#[tokio::test]
async fn a_copy_wanted_now_is_made_at_once_not_behind_the_queue() {
    let base = media_server().await;
    let dir = tempfile::tempdir().unwrap();
    let world = World::new(chat()).await;
    let media = MediaStore::open(dir.path().join("media")).unwrap();
    let (copier, _task) = MediaCopier::start(
        world.engine.store().clone(),
        media,
        vec![Arc::new(HttpFetcher::new().unwrap())],
        1024,
    );
    // The queue is stuck on a server that never answers.
    copier.enqueue(&format!("{base}/stalled"));
    copier.enqueue(&format!("{base}/avatar.png"));
    let photo = format!("{base}/photo.png");
    let wanted = copier.local_copy(&photo);
    let copy = tokio::time::timeout(std::time::Duration::from_secs(20), wanted)
        .await
        .expect("the copy does not wait for the stalled link")
        .unwrap();
    let (bytes, content_type) = copy.expect("copied");
    assert_eq!(bytes, PNG);
    assert_eq!(content_type.as_deref(), Some("image/png"));
}
