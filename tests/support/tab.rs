//! One interactive page of headless Chromium, for the tests that use a site as people do:
//! each tab has a browser context of its own (its own cookies, so each is a different person),
//! runs script in the page, types, waits for what the page shows, and keeps a record of every
//! request and every console error or CSP report, as [`super::browser::Browser::visit`] does.

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::browser::{record, Browser, PageReport, Socket};

pub struct Tab {
    /// Who this tab is, for failure messages.
    pub name: String,
    socket: Socket,
    session: String,
    next_id: u64,
    pub report: PageReport,
}

impl Tab {
    /// A new tab in a new browser context, at `about:blank`, `width` × `height`.
    pub async fn open(browser: &Browser, name: &str, width: u32, height: u32) -> Tab {
        let (socket, _) = tokio_tungstenite::connect_async(browser.ws_url.as_str())
            .await
            .expect("DevTools connection");
        let mut tab = Tab {
            name: name.to_owned(),
            socket,
            session: String::new(),
            next_id: 0,
            report: PageReport::default(),
        };
        let context = tab
            .call_browser("Target.createBrowserContext", json!({}))
            .await["browserContextId"]
            .as_str()
            .unwrap()
            .to_owned();
        let target = tab
            .call_browser(
                "Target.createTarget",
                json!({ "url": "about:blank", "browserContextId": context }),
            )
            .await["targetId"]
            .as_str()
            .unwrap()
            .to_owned();
        tab.session = tab
            .call_browser(
                "Target.attachToTarget",
                json!({ "targetId": target, "flatten": true }),
            )
            .await["sessionId"]
            .as_str()
            .unwrap()
            .to_owned();
        for domain in [
            "Network.enable",
            "Runtime.enable",
            "Log.enable",
            "Page.enable",
        ] {
            tab.call(domain, json!({})).await;
        }
        tab.viewport(width, height, false).await;
        tab
    }

    async fn send(&mut self, method: &str, params: Value, session: bool) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if session {
            message["sessionId"] = json!(self.session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("DevTools connection open");
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(30), self.socket.next())
                .await
                .unwrap_or_else(|_| {
                    panic!("{}: DevTools did not answer {method} in 30 s", self.name)
                })
                .expect("DevTools connection open")
                .unwrap();
            if let Some(value) = record(&frame, &mut self.report) {
                if value["id"].as_u64() == Some(id) {
                    return match value.get("error") {
                        Some(error) => Err(error.clone()),
                        None => Ok(value["result"].clone()),
                    };
                }
            }
        }
    }

    async fn call_browser(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, false)
            .await
            .unwrap_or_else(|e| panic!("{}: {method}: {e}", self.name))
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, true)
            .await
            .unwrap_or_else(|e| panic!("{}: {method}: {e}", self.name))
    }

    /// Loads `url` and waits for its load event.
    pub async fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url })).await;
        self.wait_for(
            "document.readyState === 'complete' && location.href !== 'about:blank'",
            Duration::from_secs(30),
            "the page to load",
        )
        .await;
    }

    /// `expression`'s value (promises awaited), or why it failed.
    pub async fn try_eval(&mut self, expression: &str) -> Result<Value, String> {
        let result = self
            .send(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
                true,
            )
            .await
            .map_err(|e| e.to_string())?;
        if let Some(details) = result.get("exceptionDetails") {
            return Err(details.to_string());
        }
        Ok(result["result"]["value"].clone())
    }

    /// `expression`'s value; a failure fails the test.
    pub async fn eval(&mut self, expression: &str) -> Value {
        match self.try_eval(expression).await {
            Ok(value) => value,
            Err(e) => panic!("{}: `{expression}` failed: {e}", self.name),
        }
    }

    /// Waits until `condition` (script) is true, checking every 20 ms; how long it took. A
    /// page between documents (a reload) counts as not yet.
    pub async fn wait_for(&mut self, condition: &str, limit: Duration, what: &str) -> Duration {
        let start = Instant::now();
        loop {
            if self.try_eval(condition).await == Ok(Value::Bool(true)) {
                return start.elapsed();
            }
            if start.elapsed() > limit {
                let text = self
                    .try_eval("document.body ? document.body.innerText : ''")
                    .await
                    .unwrap_or_default();
                panic!(
                    "{}: gave up after {limit:?} waiting for {what}; the page says:\n{text}",
                    self.name
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Types `text` into whatever has the focus, as a keyboard would.
    pub async fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({ "text": text })).await;
    }

    /// Presses a key (`Enter`, `Tab`); `modifiers` as DevTools counts them (2 = Ctrl).
    pub async fn press(&mut self, key: &str, modifiers: u32) {
        let code = match key {
            "Enter" => 13,
            "Tab" => 9,
            "Escape" => 27,
            _ => 0,
        };
        for kind in ["rawKeyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                json!({
                    "type": kind, "key": key, "code": key, "modifiers": modifiers,
                    "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code
                }),
            )
            .await;
        }
    }

    pub async fn viewport(&mut self, width: u32, height: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await;
    }

    /// From now on the page sees a reader who prefers a dark scheme.
    pub async fn dark(&mut self) {
        self.call(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": "dark" }] }),
        )
        .await;
    }

    /// Saves a screenshot of the viewport as PNG.
    pub async fn screenshot(&mut self, path: &Path) {
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .unwrap();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, bytes).unwrap();
    }

    /// Reads what DevTools sent since the last call (requests, errors) for `quiet`.
    pub async fn settle(&mut self, quiet: Duration) {
        let until = tokio::time::sleep(quiet);
        tokio::pin!(until);
        loop {
            tokio::select! {
                _ = &mut until => return,
                frame = self.socket.next() => match frame {
                    Some(Ok(frame)) => { record(&frame, &mut self.report); }
                    _ => return,
                },
            }
        }
    }
}
