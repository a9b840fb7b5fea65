//! The browser room bridged with Matrix and Discord: one chat with a room on the test Synapse,
//! a channel on the fake Discord and the browser room. A browser participant's answer reaches
//! Matrix and Discord, named and marked as from the web; theirs reach the browser page live.

#![recursion_limit = "256"]

#[path = "support/bridge.rs"]
mod bridge;
#[path = "support/discord.rs"]
mod discord;
#[path = "support/matrix.rs"]
mod matrix;
mod support;

use bridge::*;
use discord_fake::Post;
use support::browser::Browser;
use support::room_page::{assert_clean, free_port, join, screenshots, send, shows};
use support::tab::Tab;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_answer_reaches_matrix_and_discord_and_theirs_reach_the_browser() {
    let port = free_port();
    let Bridge {
        moderator,
        room,
        mut bot,
        fake,
        ..
    } = Bridge::start_with_browser_room(port).await;
    let origin = format!("http://127.0.0.1:{port}");
    let d = fake.defaults().clone();

    let browser = Browser::start();
    let mut ada = Tab::open(&browser, "ada", 1200, 900).await;
    join(&mut ada, &origin, "Ada").await;
    let session = matrix::start_session(&moderator, &room, &bot).await;
    ada.wait_for(&shows("Welcome"), WAIT, "the intro in the browser")
        .await;

    // From the browser to both platforms.
    assert_eq!(send(&mut ada, "A1 from the browser @everyone").await, "");
    let on_discord = discord_message(&fake, d.channel, &bot, "the browser's answer", |m| {
        m.content.contains("A1 from the browser")
    })
    .await;
    let author = on_discord
        .webhook
        .clone()
        .expect("copied through the webhook");
    assert_eq!(author.username, "Ada (Web)", "{author:?}");
    assert!(!on_discord.mention_everyone, "pings nobody");
    let on_matrix = bot_event(&moderator, &room, &bot, "A1 from the browser").await;
    assert_eq!(body(&on_matrix), "Ada (Web): A1 from the browser @everyone");
    assert_eq!(on_matrix["content"][matrix::RELAY_MARK]["platform"], "web");

    // From both platforms to the browser, each named with where it was written.
    fake.post(Post::new(d.channel, d.alice, "A1 from Discord"))
        .await
        .unwrap();
    moderator.say(&room, "A1 from Matrix").await;
    for text in ["A1 from Discord", "A1 from Matrix"] {
        ada.wait_for(&shows(text), WAIT, text).await;
    }
    let origins = ada
        .eval(
            "Array.from(document.querySelectorAll('.room-msg')).map(function (m) { \
             var o = m.querySelector('.origin'); return m.dataset.author + '|' + (o ? o.textContent : ''); })",
        )
        .await;
    let origins: Vec<&str> = origins
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(origins.contains(&"Alice|Discord"), "{origins:?}");
    assert!(
        origins.iter().any(|o| o.ends_with("|Matrix")),
        "{origins:?}"
    );
    assert!(
        origins.contains(&"Ada|"),
        "its own message unmarked: {origins:?}"
    );
    // A picture shared from the browser reaches Discord as a file of its own.
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD.encode(matrix::PNG);
    ada.eval(&format!(
        "(function () {{ var bytes = Uint8Array.from(atob('{png}'), function (c) {{ return c.charCodeAt(0); }}); \
         var t = new DataTransfer(); t.items.add(new File([bytes], 'view.png', {{ type: 'image/png' }})); \
         var f = document.getElementById('share'); f.querySelector('input[type=file]').files = t.files; \
         f.querySelector('#share-body').value = 'A2 the view from the browser'; f.requestSubmit(); return true; }})()"
    ))
    .await;
    let copy = discord_message(&fake, d.channel, &bot, "the shared picture", |m| {
        m.content.contains("A2 the view from the browser")
    })
    .await;
    assert_eq!(copy.attachments.len(), 1, "{copy:?}");
    assert_eq!(copy.attachments[0].filename, "view.png");
    assert_eq!(copy.attachments[0].size, matrix::PNG.len());
    ada.wait_for(
        &shows("A2 the view from the browser"),
        WAIT,
        "the shared picture in the room",
    )
    .await;
    ada.screenshot(&screenshots().join("room-bridged-desktop.png"))
        .await;
    ada.settle(std::time::Duration::from_millis(300)).await;
    assert_clean(&ada, &origin, &[]);

    matrix::stop_session(&moderator, &room, &bot).await;
    assert!(bot.stop().success(), "{}", bot.logs());
    let mut archived = archived_bodies(&bot, &session);
    archived.sort();
    assert_eq!(
        archived,
        [
            "A1 from Discord",
            "A1 from Matrix",
            "A1 from the browser @everyone",
            "A2 the view from the browser",
        ],
        "each archived once, where it was written"
    );
}
