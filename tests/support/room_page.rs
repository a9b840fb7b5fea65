//! The browser room's page as a test drives it in Chromium: joining, sending, waiting for what
//! the page shows, and checking that it stayed clean.

use std::path::PathBuf;
use std::time::Duration;

use super::tab::Tab;

pub const WAIT: Duration = Duration::from_secs(30);

/// Where screenshots go: `target/screenshots/`.
pub fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `s` as a JavaScript string literal.
pub fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

pub async fn join(tab: &mut Tab, origin: &str, name: &str) {
    tab.goto(&format!("{origin}/r/lobby")).await;
    tab.eval(&format!(
        "document.getElementById('join-name').value = {}; document.getElementById('join').requestSubmit(); true",
        js(name)
    ))
    .await;
    tab.wait_for(
        &format!("!!document.querySelector('.you') && document.querySelector('.you').textContent.includes({})", js(name)),
        WAIT,
        &format!("{name} to have joined"),
    )
    .await;
}

/// Sends `text` from the composer and waits for the server's answer; the form's status text
/// afterwards (empty when it was sent).
pub async fn send(tab: &mut Tab, text: &str) -> String {
    tab.eval(&format!(
        "(function() {{ var f = document.getElementById('say'); f.querySelector('textarea').value = {}; \
         window.__sent = false; f.querySelector('button[type=submit]').disabled = false; f.requestSubmit(); return true; }})()",
        js(text)
    ))
    .await;
    tab.wait_for(
        "!document.querySelector('#say button[type=submit]').disabled",
        WAIT,
        "the post to be answered",
    )
    .await;
    tab.eval("document.querySelector('#say .form-status').textContent")
        .await
        .as_str()
        .unwrap_or("")
        .to_owned()
}

pub fn shows(text: &str) -> String {
    format!(
        "Array.from(document.querySelectorAll('#events .body')).some(function (b) {{ return b.textContent.includes({}); }})",
        js(text)
    )
}

pub async fn command(tab: &mut Tab, which: &str) {
    tab.eval(&format!(
        "document.querySelector('button[data-command={}]').closest('form').requestSubmit(); true",
        js(which)
    ))
    .await;
}

/// No console error and no CSP report, but for the refusals the test provoked (`expected`
/// statuses, which Chromium logs as failed loads), and no request beyond `origin`.
pub fn assert_clean(tab: &Tab, origin: &str, expected: &[u16]) {
    let errors: Vec<&String> = tab
        .report
        .errors
        .iter()
        .filter(|e| {
            !expected.iter().any(|status| {
                e.contains(&format!("the server responded with a status of {status}"))
            })
        })
        .collect();
    assert!(
        errors.is_empty(),
        "{}: console errors or CSP reports: {errors:#?}",
        tab.name
    );
    let elsewhere: Vec<&String> = tab
        .report
        .requests
        .iter()
        .filter(|r| {
            !r.starts_with(&format!("{origin}/")) && !r.starts_with("data:") && *r != "about:blank"
        })
        .collect();
    assert!(
        elsewhere.is_empty(),
        "{}: requests beyond the origin: {elsewhere:?}",
        tab.name
    );
}
