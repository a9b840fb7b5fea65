//! The archive's web server, in process on 127.0.0.1:0, against a SQLite store filled by the
//! real engine (loopback platform, manual clock), queried over HTTP.

#[path = "../../../bot-core/tests/fixtures/hostile.rs"]
mod hostile;

use std::path::PathBuf;
use std::sync::Arc;

use bot_core::chat::{Chat, Point, Visibility};
use bot_core::clock::ManualClock;
use bot_core::engine::{Engine, EngineSettings};
use bot_core::ids::{Platform, RoomRef, UserRef};
use bot_core::loopback::LoopbackAdapter;
use bot_core::render::html::SCRIPT;
use bot_core::store::{Mark, Store};
use chrono::{DateTime, Duration, TimeZone, Utc};
use hashchat_web::WebState;
use scraper::{Html, Selector};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MODERATOR: &str = "mod";
const HOSTILE_TITLE: &str = "<script>alert('title')</script> Libraries & \"quotes\"";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 19, 0, 0).unwrap()
}

fn chat(slug: &str, title: &str, visibility: Visibility) -> Chat {
    Chat {
        slug: slug.into(),
        title: title.into(),
        hashtag: format!("#{slug}"),
        description: format!("About {slug}"),
        intro: "Welcome!".into(),
        wrap_up: "Thanks".into(),
        points: (1..=2)
            .map(|n| Point {
                text: format!("Point {n}?"),
                minutes: None,
            })
            .collect(),
        minutes_between_points: 10,
        intro_minutes: 2,
        reminder_minutes: 0,
        zone: chrono_tz::Europe::London,
        schedule: None,
        rooms: vec![RoomRef::new(Platform::Loopback, format!("room-{slug}"))],
        moderators: vec![UserRef::new(Platform::Loopback, MODERATOR)],
        visibility,
        capture_hashtag: Default::default(),
        platform_options: Default::default(),
        source: PathBuf::from(format!("{slug}.toml")),
    }
}

struct Site {
    _dir: tempfile::TempDir,
    base: String,
    store: Store,
    client: reqwest::Client,
    /// Public sessions, oldest first.
    public: Vec<String>,
    unlisted: String,
    private: String,
    /// Message ids in the newest public session: (plain, opted-out, hidden, deleted).
    ids: [String; 4],
}

/// A formatted message as a Matrix client sends it.
const FORMATTED: &str = "<strong>bold zebras</strong> <em>it</em> <code>a &lt; b</code> \
    <a href=\"https://example.org/z\">a site</a> <span data-mx-spoiler>secret</span><br>next\
    <blockquote>quoted</blockquote>";

struct Runner<'a> {
    engine: &'a Engine,
    clock: &'a ManualClock,
    loopback: &'a Arc<LoopbackAdapter>,
}

impl Runner<'_> {
    async fn command(&self, slug: &str, text: &str) {
        self.engine
            .handle(LoopbackAdapter::command(
                &format!("room-{slug}"),
                MODERATOR,
                text,
            ))
            .await
            .unwrap();
    }

    async fn say(
        &self,
        slug: &str,
        author: &str,
        name: &str,
        body: &str,
        formatted: Option<&str>,
    ) -> String {
        let mut m = self.loopback.message(
            &format!("room-{slug}"),
            author,
            name,
            body,
            self.clock.now_utc(),
            None,
        );
        m.formatted_body = formatted.map(str::to_owned);
        let id = m.platform_msg_id.clone();
        self.engine.archive_message(m).await.unwrap();
        self.clock.advance(Duration::seconds(30));
        id
    }

    /// Runs a session of `slug` now; returns its uid.
    async fn session(&self, slug: &str, messages: &[(&str, &str, &str)]) -> Vec<String> {
        let messages: Vec<_> = messages.iter().map(|&(a, n, b)| (a, n, b, None)).collect();
        self.session_formatted(slug, &messages).await
    }

    /// As [`Runner::session`], each message with its formatted body, if any.
    async fn session_formatted(
        &self,
        slug: &str,
        messages: &[(&str, &str, &str, Option<&str>)],
    ) -> Vec<String> {
        self.command(slug, &format!("start {slug}")).await;
        let mut ids = Vec::new();
        for (author, name, body, formatted) in messages {
            ids.push(self.say(slug, author, name, body, *formatted).await);
        }
        self.command(slug, "stop").await;
        ids
    }
}

trait NowUtc {
    fn now_utc(&self) -> DateTime<Utc>;
}
impl NowUtc for ManualClock {
    fn now_utc(&self) -> DateTime<Utc> {
        use bot_core::clock::Clock;
        self.now()
    }
}

async fn uids(store: &Store, slug: &str) -> Vec<String> {
    let mut all: Vec<_> = store
        .list_sessions()
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.session.chat_slug == slug && s.session.started_at.is_some())
        .map(|s| (s.session.started_at, s.session.uid))
        .collect();
    all.sort();
    all.into_iter().map(|(_, u)| u).collect()
}

async fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hashchat.db").display());
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let chats = vec![
        chat("pub", HOSTILE_TITLE, Visibility::Public),
        chat("other", "Other chat", Visibility::Public),
        chat("unl", "Unlisted chat", Visibility::Unlisted),
        chat("priv", "Private chat", Visibility::Private),
    ];
    let clock = ManualClock::new(t0());
    let engine = Engine::new(
        store.clone(),
        Arc::new(clock.clone()),
        chats.clone(),
        EngineSettings {
            wait_for_delivery: true,
            ..EngineSettings::default()
        },
    );
    let loopback = LoopbackAdapter::with_log(dir.path().join("loopback.jsonl")).unwrap();
    engine.register_adapter(loopback.clone());
    engine.load().await.unwrap();
    let r = Runner {
        engine: &engine,
        clock: &clock,
        loopback: &loopback,
    };

    r.session("pub", &[("alice", "Alice", "Zebras are stripy")])
        .await;
    clock.advance(Duration::days(1));
    r.session("other", &[("bob", "Bob", "otherworldly zebras")])
        .await;
    clock.advance(Duration::days(1));
    r.session("unl", &[("alice", "Alice", "unlisted zebras secret")])
        .await;
    r.session("priv", &[("alice", "Alice", "private zebras secret")])
        .await;
    clock.advance(Duration::days(1));
    let mut msgs: Vec<(String, String, String)> = vec![
        ("alice".into(), "Alice".into(), "newest zebras".into()),
        ("carol".into(), "Carol".into(), "optedout zebras".into()),
        ("dave".into(), "Dave".into(), "hiddenword zebras".into()),
        ("erin".into(), "Erin".into(), "deletedword zebras".into()),
    ];
    for (i, (_, s)) in hostile::corpus().into_iter().enumerate() {
        msgs.push((format!("h{i}"), s.clone(), s));
    }
    let mut borrowed: Vec<(&str, &str, &str, Option<&str>)> = msgs
        .iter()
        .map(|(a, n, b)| (a.as_str(), n.as_str(), b.as_str(), None))
        .collect();
    // Formatted messages: one people wrote, then every hostile formatted body.
    let formatted = hostile::formatted_corpus();
    borrowed.push(("fay", "Fay", "formatted zebras", Some(FORMATTED)));
    for (_, html) in &formatted {
        borrowed.push((
            "gil",
            "Gil",
            "hostile formatted zebras",
            Some(html.as_str()),
        ));
    }
    let ids = r.session_formatted("pub", &borrowed).await;
    // Scheduled, not started: never served; the public one is on /upcoming.
    r.command("pub", "schedule pub in 2d").await;
    r.command("priv", "schedule priv in 2d").await;

    let at = clock.now_utc();
    let moderator = UserRef::new(Platform::Loopback, MODERATOR);
    store
        .set_opt_out(&UserRef::new(Platform::Loopback, "carol"), true, at)
        .await
        .unwrap();
    store
        .set_mark(
            Mark::Hidden,
            Platform::Loopback,
            &ids[2],
            true,
            &moderator,
            at,
        )
        .await
        .unwrap();
    store
        .record_deletion(Platform::Loopback, &ids[3], at)
        .await
        .unwrap();

    let mut state = WebState::new(store.clone(), chats);
    state.clock = Arc::new(clock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(hashchat_web::serve(listener, state, std::future::pending()));

    Site {
        base: format!("http://{addr}"),
        public: uids(&store, "pub").await,
        unlisted: uids(&store, "unl").await.remove(0),
        private: uids(&store, "priv").await.remove(0),
        ids: [
            ids[0].clone(),
            ids[1].clone(),
            ids[2].clone(),
            ids[3].clone(),
        ],
        store,
        client: reqwest::Client::new(),
        _dir: dir,
    }
}

impl Site {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    async fn text(&self, path: &str) -> (u16, String) {
        let r = self.get(path).await;
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// The links to sessions on a page, in order.
    async fn session_links(&self, path: &str) -> Vec<String> {
        let (status, body) = self.text(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let doc = Html::parse_document(&body);
        let a = Selector::parse("table a[href^='/s/']").unwrap();
        doc.select(&a)
            .map(|e| {
                e.value()
                    .attr("href")
                    .unwrap()
                    .trim_start_matches("/s/")
                    .to_owned()
            })
            .collect()
    }
}

/// Every `<script>` on the page is the one known snippet, and nothing carries an event handler
/// or a `javascript:` link.
fn assert_inert(path: &str, body: &str) {
    let doc = Html::parse_document(body);
    let scripts: Vec<_> = doc.select(&Selector::parse("script").unwrap()).collect();
    for s in &scripts {
        assert_eq!(s.inner_html(), SCRIPT, "{path}: unexpected script");
        assert!(s.value().attr("src").is_none());
    }
    assert!(scripts.len() <= 1, "{path}: {} scripts", scripts.len());
    for e in doc.select(&Selector::parse("*").unwrap()) {
        for (name, value) in e.value().attrs() {
            assert!(!name.starts_with("on"), "{path}: handler {name}={value}");
            if name == "href" || name == "src" {
                let v = value.trim().to_ascii_lowercase();
                assert!(!v.starts_with("javascript:"), "{path}: {name}={value}");
                assert!(!v.starts_with("data:text"), "{path}: {name}={value}");
            }
        }
        assert!(
            !["iframe", "object", "embed", "base", "svg"].contains(&e.value().name()),
            "{path}: <{}>",
            e.value().name()
        );
    }
}

#[tokio::test]
async fn the_index_lists_public_sessions_newest_first_and_filters() {
    let site = site().await;
    let all = site.session_links("/").await;
    let other = uids(&site.store, "other").await.remove(0);
    assert_eq!(
        all,
        [
            site.public[1].clone(),
            other.clone(),
            site.public[0].clone()
        ]
    );
    assert!(!all.contains(&site.unlisted) && !all.contains(&site.private));

    assert_eq!(
        site.session_links("/?chat=other").await,
        vec![other.clone()]
    );
    assert!(site.session_links("/?chat=priv").await.is_empty());
    assert!(site.session_links("/?chat=unl").await.is_empty());
    assert_eq!(
        site.session_links("/?from=2026-12-02&to=2026-12-02").await,
        vec![other.clone()]
    );
    assert_eq!(
        site.session_links("/?from=2026-12-03").await,
        [site.public[1].clone()]
    );
    assert_eq!(
        site.session_links("/?to=2026-12-01&chat=pub").await,
        [site.public[0].clone()]
    );
    assert!(site.session_links("/?page=2").await.is_empty());

    let (_, body) = site.text("/").await;
    assert!(body.contains("<time class=\"full\" datetime=\"2026-12-01T19:00:00.000Z\">"));
    assert_inert("/", &body);
    // Sessions of one chat are told apart: number, how far each got, messages.
    let doc = Html::parse_document(&body);
    let rows: Vec<Vec<String>> = doc
        .select(&Selector::parse("tbody tr").unwrap())
        .map(|tr| {
            tr.select(&Selector::parse("td").unwrap())
                .map(|td| td.text().collect::<String>())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 3);
    let header: Vec<String> = doc
        .select(&Selector::parse("thead th").unwrap())
        .map(|th| th.text().collect())
        .collect();
    assert_eq!(
        header,
        ["Chat", "Session", "How far it got", "Started", "Messages"]
    );
    for row in &rows {
        assert!(row[1].parse::<u32>().is_ok(), "{row:?}");
        assert!(
            row[2].starts_with("all ")
                || row[2].starts_with("stopped")
                || row[2].starts_with("running"),
            "{row:?}"
        );
    }
    let numbers: std::collections::HashSet<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(numbers.len(), 3, "{rows:?}");
}

#[tokio::test]
async fn a_session_page_links_back_to_the_archive_its_chat_search_and_upcoming() {
    let site = site().await;
    let (_, page) = site.text(&format!("/s/{}", site.public[0])).await;
    let doc = Html::parse_document(&page);
    let links: Vec<(String, String)> = doc
        .select(&Selector::parse("nav.site a").unwrap())
        .map(|a| {
            (
                a.text().collect(),
                a.value().attr("href").unwrap().to_owned(),
            )
        })
        .collect();
    let paths: Vec<&str> = links.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(
        paths,
        ["/", "/?chat=pub", "/search", "/upcoming"],
        "{links:?}"
    );
    // Each one answers.
    for path in paths {
        assert_eq!(site.text(path).await.0, 200, "{path}");
    }
    // An unlisted chat's page does not point at a listing that leaves it out.
    let (_, page) = site.text(&format!("/s/{}", site.unlisted)).await;
    assert!(!page.contains("/?chat=unl"), "{page}");
    assert!(page.contains("href=\"/search\""));
}

#[tokio::test]
async fn bad_query_parameters_are_400_with_a_short_message() {
    let site = site().await;
    for path in [
        "/?page=0",
        "/?page=abc",
        "/?page=99999999999",
        "/?from=2026-13-01",
        "/?from=yesterday",
        "/?from=2026-12-05&to=2026-12-01",
        "/?chat=Bad%20Slug",
        "/?chat=a&chat=b",
        "/?bogus=1",
        "/?chat=%ff",
        "/search?q=a&q=b",
        "/search?nope=1",
        "/upcoming?x=1",
    ] {
        let (status, body) = site.text(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body.starts_with("bad request: ") && body.len() < 200,
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn sessions_are_served_with_downloads_and_unlisted_only_by_url() {
    let site = site().await;
    let uid = &site.public[1];
    let r = site.get(&format!("/s/{uid}")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let body = r.text().await.unwrap();
    assert!(body.contains("newest zebras"));
    assert_inert("/s/…", &body);

    let r = site.get(&format!("/s/{uid}.json")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"hashchat-{uid}.json\"").as_str()
    );
    let json: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(json["session"]["uid"], uid.as_str());

    let r = site.get(&format!("/s/{uid}.md")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .ends_with(".md\""));
    assert!(r.text().await.unwrap().contains("newest zebras"));

    // Unlisted: served by link, in every format, marked noindex; never listed or found.
    for suffix in ["", ".md", ".json"] {
        let r = site.get(&format!("/s/{}{suffix}", site.unlisted)).await;
        assert_eq!(r.status(), 200, "{suffix}");
        assert_eq!(r.headers()["x-robots-tag"], "noindex");
        assert!(r.text().await.unwrap().contains("unlisted zebras secret"));
    }
    assert!(site
        .get(&format!("/s/{uid}"))
        .await
        .headers()
        .get("x-robots-tag")
        .is_none());
    let (_, body) = site.text("/search?q=unlisted").await;
    assert!(!body.contains(&site.unlisted) && !body.contains("unlisted zebras"));
}

#[tokio::test]
async fn session_pages_and_downloads_show_formatting_and_stay_inert() {
    let site = site().await;
    let uid = &site.public[1];
    let (status, page) = site.text(&format!("/s/{uid}")).await;
    assert_eq!(status, 200);
    assert_inert("/s/… formatted", &page);
    assert!(
        page.contains(
            "<div class=\"body rich\" dir=\"auto\"><p><strong>bold zebras</strong> <em>it</em> \
             <code>a &lt; b</code> <a href=\"https://example.org/z\" rel=\"nofollow ugc noopener\" \
             referrerpolicy=\"no-referrer\">a site</a> <span class=\"spoiler\" tabindex=\"0\" \
             title=\"Spoiler: click to show\">secret</span><br>next</p><blockquote><p>quoted</p>\
             </blockquote></div>"
        ),
        "{page}"
    );
    // A plain body's web address is a link, with the same rel.
    assert!(page.contains(
        "<a href=\"https://evil.example/tracker.png\" rel=\"nofollow ugc noopener\" \
         referrerpolicy=\"no-referrer\">https://evil.example/tracker.png</a>"
    ));
    let doc = Html::parse_document(&page);
    let all = Selector::parse("*").unwrap();
    for e in doc.select(&all) {
        let el = e.value();
        assert!(
            !["img", "style", "iframe", "object", "embed", "form", "input", "link", "base"]
                .contains(&el.name())
                || (el.name() == "style" && el.attrs().next().is_none()),
            "<{}>",
            el.name()
        );
        assert!(el.attr("style").is_none(), "<{} style>", el.name());
        if el.name() == "a" {
            if let Some(href) = el.attr("href") {
                let h = href.to_ascii_lowercase();
                // The archive's own way back, and nothing else, goes to a path of this site.
                let site_nav = e
                    .parent()
                    .and_then(scraper::ElementRef::wrap)
                    .is_some_and(|p| {
                        p.value().name() == "nav"
                            && p.value()
                                .has_class("site", scraper::CaseSensitivity::CaseSensitive)
                    });
                assert!(
                    h.starts_with('#')
                        || h.starts_with("https://")
                        || h.starts_with("http://")
                        || h.starts_with("mailto:")
                        || (site_nav && h.starts_with('/') && !h.starts_with("//")),
                    "href={href}"
                );
                assert!(
                    !h.starts_with("https://matrix.to/#/@"),
                    "a mention kept its link"
                );
            }
        }
    }
    // The hostile formatted bodies kept their text; the one too deep to read shows its plain text.
    assert!(page.contains("<strong>bold</strong> text"));
    assert!(page.contains("@room and Ann"));
    assert!(page.contains(">hostile formatted zebras</p>"));

    let (_, md) = site.text(&format!("/s/{uid}.md")).await;
    assert!(
        md.contains(
            "**bold zebras** *it* `a < b` [a site](<https://example.org/z>) \\|\\|secret\\|\\|  \n  next\n\n  > quoted"
        ),
        "{md}"
    );
    // Participants' text is escaped (`\\<script>`, `\\[x\\](javascript:…)`); no link of theirs
    // goes anywhere but the web.
    for end_of_link_text in ["](javascript", "](<javascript"] {
        assert!(
            md.match_indices(end_of_link_text)
                .all(|(i, _)| md[..i].ends_with('\\')),
            "{md}"
        );
    }
}

#[tokio::test]
async fn private_and_unknown_sessions_are_404_everywhere() {
    let site = site().await;
    let never_started = site
        .store
        .list_sessions()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.session.chat_slug == "pub" && s.session.started_at.is_none())
        .unwrap()
        .session
        .uid;
    for uid in [
        site.private.as_str(),
        never_started.as_str(),
        "0123456789abcdef0123456789abcdef",
    ] {
        for suffix in ["", ".md", ".json"] {
            let (status, body) = site.text(&format!("/s/{uid}{suffix}")).await;
            assert_eq!(status, 404, "{uid}{suffix}");
            assert!(!body.contains("secret"));
        }
    }
    for path in [
        "/?chat=priv",
        "/search?q=private",
        "/search?q=secret",
        "/upcoming",
    ] {
        let (_, body) = site.text(path).await;
        assert!(!body.contains(&site.private), "{path}");
        assert!(!body.contains("Private chat"), "{path}");
        assert!(!body.contains("private zebras"), "{path}");
    }
    assert_eq!(site.get("/c/priv.ics").await.status(), 404);
}

#[tokio::test]
async fn search_finds_words_and_respects_opt_out_hidden_and_deleted() {
    let site = site().await;
    let (status, body) = site.text("/search?q=Zebras").await;
    assert_eq!(status, 200);
    assert_inert("/search", &body);
    let doc = Html::parse_document(&body);
    let sections: Vec<String> = doc
        .select(&Selector::parse("section h2 a").unwrap())
        .map(|a| a.value().attr("href").unwrap().to_owned())
        .collect();
    let other = uids(&site.store, "other").await.remove(0);
    assert_eq!(
        sections,
        [
            format!("/s/{}", site.public[1]),
            format!("/s/{other}"),
            format!("/s/{}", site.public[0]),
        ]
    );
    // Each hit says which point it answers, with the words that matched marked.
    let hits: Vec<String> = doc
        .select(&Selector::parse("article.hit").unwrap())
        .map(|a| a.text().collect())
        .collect();
    assert!(!hits.is_empty());
    assert!(
        hits.iter()
            .all(|h| h.contains("answering Q") || h.contains("in the introduction")),
        "{hits:?}"
    );
    let marked: Vec<String> = doc
        .select(&Selector::parse(".excerpt mark").unwrap())
        .map(|m| m.text().collect::<String>().to_lowercase())
        .collect();
    assert_eq!(
        marked.len(),
        hits.len(),
        "one marked word a hit: {marked:?}"
    );
    assert!(marked.iter().all(|m| m == "zebras"), "{marked:?}");
    let anchor = bot_core::render::html::message_anchor("loopback", &site.ids[0]);
    assert!(body.contains(&format!("/s/{}#{anchor}", site.public[1])));
    // The anchor exists on the session page.
    let (_, page) = site.text(&format!("/s/{}", site.public[1])).await;
    assert!(page.contains(&format!("id=\"{anchor}\"")));

    for (word, why) in [
        ("optedout", "opted out"),
        ("hiddenword", "hidden"),
        ("deletedword", "deleted"),
    ] {
        let (status, body) = site.text(&format!("/search?q={word}")).await;
        assert_eq!(status, 200);
        assert!(body.contains("No messages match"), "{why}: {body}");
    }
    let (_, body) = site.text("/search").await;
    assert!(!body.contains("No messages match"));
}

#[tokio::test]
async fn search_results_are_paged_by_the_older_link_without_repeats() {
    let site = site().await;
    let session = site
        .store
        .find_session_by_uid(&site.public[0])
        .await
        .unwrap()
        .unwrap();
    let started = session.started_at.unwrap();
    let batch: Vec<_> = (0..60)
        .map(|i| bot_core::model::ArchivedMessage {
            session_id: session.id,
            point: Some(1),
            message: bot_core::model::IncomingMessage {
                platform: Platform::Loopback,
                room: "room-pub".into(),
                platform_msg_id: format!("paged-{i}"),
                author_id: "reader".into(),
                author_name: "Reader".into(),
                avatar_url: None,
                body: format!("pagination message {i}"),
                formatted_body: None,
                sent_at: started + Duration::seconds(i),
                reply_to: None,
                attachments: Vec::new(),
                platform_label: None,
                permalink: None,
            },
        })
        .collect();
    site.store.append_messages(&batch).await.unwrap();

    let hits_and_older = |body: &str| {
        let doc = Html::parse_document(body);
        let hits: Vec<String> = doc
            .select(&Selector::parse("article.hit .excerpt").unwrap())
            .map(|e| e.text().collect())
            .collect();
        let link = |rel: &str| {
            doc.select(&Selector::parse(&format!("nav.pages a[rel='{rel}']")).unwrap())
                .next()
                .map(|a| a.value().attr("href").unwrap().to_owned())
        };
        (hits, link("next"), link("first"))
    };
    let (status, body) = site.text("/search?q=pagination").await;
    assert_eq!(status, 200);
    let (first, older, newest) = hits_and_older(&body);
    assert_eq!(first.len(), 50, "a full page");
    assert!(newest.is_none(), "the first page links to no newer one");
    // Within a session, the page reads in the order the messages were sent.
    assert_eq!(first[0], "pagination message 10");
    assert_eq!(first[49], "pagination message 59");
    let older = older.expect("an Older link when more match");
    let (status, body) = site.text(&older).await;
    assert_eq!(status, 200, "{older}: {body}");
    let (second, further, newest) = hits_and_older(&body);
    assert_eq!(second.len(), 10);
    assert_eq!(second[0], "pagination message 0");
    assert!(further.is_none(), "nothing older");
    assert_eq!(newest.as_deref(), Some("/search?q=pagination"));
    let mut all: Vec<_> = first.iter().chain(&second).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 60, "every message once");
    for bad in [
        "before=0",
        "before=-1",
        "before=x",
        "before=99999999999999999999",
    ] {
        let (status, _) = site.text(&format!("/search?q=pagination&{bad}")).await;
        assert_eq!(status, 400, "{bad}");
    }
}

#[tokio::test]
async fn hostile_queries_never_fail() {
    let site = site().await;
    let long = "a".repeat(10 * 1024);
    let queries = [
        "%22",
        "*",
        "NEAR(",
        ")%20OR%20(",
        "%00",
        "a%00b",
        "%22unbalanced",
        "body:zebras",
        "zebras%20NOT%20x",
        "%27;%20DROP%20TABLE%20messages;--",
        "%3Cscript%3Ealert(1)%3C/script%3E",
        long.as_str(),
    ];
    for q in queries {
        let (status, body) = site.text(&format!("/search?q={q}")).await;
        assert!(status == 200 || status == 400, "{q:.40}: {status}");
        assert_inert("/search", &body);
    }
    // The hostile messages themselves are found, and their excerpts are inert.
    let (status, body) = site.text("/search?q=alert").await;
    assert_eq!(status, 200);
    assert!(!body.contains("No messages match"));
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_inert("/search?q=alert", &body);
    let (_, body) = site
        .text("/search?q=%3Cscript%3Ealert(1)%3C/script%3E")
        .await;
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // Every hostile string as a query.
    for (case, s) in hostile::corpus() {
        // Long cases are cut: a URI has a length limit of its own.
        let s: String = s.chars().take(1000).collect();
        let q = serde_urlencoded::to_string([("q", s.as_str())]).unwrap();
        let (status, body) = site.text(&format!("/search?{q}")).await;
        assert!(status == 200 || status == 400, "{case}: {status}");
        assert_inert(case, &body);
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let site = site().await;
    let paths = [
        "/".to_owned(),
        "/?page=0".into(),
        format!("/s/{}", site.public[0]),
        format!("/s/{}.md", site.public[0]),
        format!("/s/{}.json", site.public[0]),
        format!("/s/{}", site.private),
        "/s/nope".into(),
        "/search?q=zebras".into(),
        "/upcoming".into(),
        "/calendar.ics".into(),
        "/c/pub.ics".into(),
        "/healthz".into(),
        "/style.css".into(),
        "/no/such/page".into(),
    ];
    for path in &paths {
        let r = site.get(path).await;
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no CSP"))
            .to_str()
            .unwrap();
        for part in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            bot_core::render::html::SCRIPT_CSP_HASH,
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
    // Other methods too.
    let r = site
        .client
        .post(format!("{}/s/{}", site.base, site.public[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers().contains_key("content-security-policy"));
    let r = site.get("/style.css").await;
    assert_eq!(r.headers()["content-type"], "text/css; charset=utf-8");
}

/// Sends `path` exactly as written (no client-side normalisation) and returns the response.
async fn raw_get(base: &str, path: &str) -> String {
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn path_traversal_finds_nothing() {
    let site = site().await;
    for path in [
        "/s/../../etc/passwd",
        "/s/..%2f..%2fetc%2fpasswd",
        "/s/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/s/..%252f..%252fetc%252fpasswd",
        "/media/..%2f..%2fetc%2fpasswd",
        "/media/../../etc/passwd",
        "/c/..%2f..%2fetc%2fpasswd.ics",
        "/c/../../etc/passwd.ics",
        "/style.css/../../etc/passwd",
        "/../../../../etc/passwd",
        "/s/%00",
        "/s/0123456789abcdef0123456789abcdef%00.json",
        "//etc/passwd",
        "/s/..\\..\\etc\\passwd",
    ] {
        let response = raw_get(&site.base, path).await;
        let status: u16 = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        assert!(status == 404 || status == 400, "{path}: {response:.200}");
        assert!(!response.contains("root:"), "{path}");
    }
}

#[tokio::test]
async fn health_and_upcoming() {
    let site = site().await;
    assert_eq!(site.text("/healthz").await, (200, "ok\n".to_owned()));

    let (status, body) = site.text("/upcoming").await;
    assert_eq!(status, 200);
    assert_inert("/upcoming", &body);
    assert!(body.contains("href=\"/c/pub.ics\""));
    assert!(body.contains("href=\"/calendar.ics\""));
    assert!(!body.contains("/c/priv.ics"));
    assert_eq!(body.matches("<time").count(), 1, "{body}");
    assert!(body.contains(&hashchat_web::page::esc(HOSTILE_TITLE)));

    // A closed store: 503.
    site.store.close().await;
    assert_eq!(site.get("/healthz").await.status(), 503);
}

#[tokio::test]
async fn ical_feeds_list_public_chats_and_their_one_off_sessions_only() {
    let site = site().await;
    let response = site.get("/c/pub.ics").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap(),
        "text/calendar; charset=utf-8"
    );
    let (_, one) = site.text("/c/pub.ics").await;
    assert!(one.starts_with("BEGIN:VCALENDAR\r\n"), "{one}");
    assert_eq!(
        one.matches("BEGIN:VEVENT").count(),
        1,
        "the session scheduled with `schedule pub in 2d`:\n{one}"
    );
    assert!(
        one.contains("BEGIN:VTIMEZONE"),
        "every TZID has its VTIMEZONE"
    );
    let (_, all) = site.text("/calendar.ics").await;
    assert!(all.starts_with("BEGIN:VCALENDAR\r\n"));
    assert!(!all.contains("Private chat"), "{all}");
    assert_eq!(site.get("/c/priv.ics").await.status(), 404);
    assert_eq!(site.get("/c/no-such-chat.ics").await.status(), 404);
}
