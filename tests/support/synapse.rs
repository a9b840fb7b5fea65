//! The Synapse homeserver that `scripts/test` starts on 127.0.0.1: its address, and users
//! registered through the shared-secret admin API.
//!
//! A test that needs it and cannot find it fails; it never passes by skipping.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha1::Sha1;

/// A registered user's session on the homeserver.
#[derive(Clone)]
pub struct MatrixUser {
    pub user_id: String,
    pub access_token: String,
}

pub struct Homeserver {
    pub url: String,
    secret: String,
    http: reqwest::Client,
}

impl Homeserver {
    /// The homeserver from `HASHCHAT_TEST_SYNAPSE_URL` and `HASHCHAT_TEST_SYNAPSE_SECRET`.
    pub fn from_env() -> Homeserver {
        let url = std::env::var("HASHCHAT_TEST_SYNAPSE_URL").unwrap_or_else(|_| {
            panic!("the Matrix tests need a Synapse homeserver: HASHCHAT_TEST_SYNAPSE_URL is not set (scripts/test starts one; `scripts/test --prepare-only` prints the exports)")
        });
        let secret = std::env::var("HASHCHAT_TEST_SYNAPSE_SECRET")
            .expect("HASHCHAT_TEST_SYNAPSE_SECRET is not set (scripts/test sets it with the URL)");
        Homeserver {
            url,
            secret,
            http: reqwest::Client::new(),
        }
    }

    /// Registers `name` (a fresh, unique localpart) and logs it in.
    pub async fn register(&self, name: &str, admin: bool) -> MatrixUser {
        let endpoint = format!("{}/_synapse/admin/v1/register", self.url);
        let nonce: Value = self.get_json(&endpoint, None).await;
        let nonce = nonce["nonce"]
            .as_str()
            .expect("a registration nonce")
            .to_owned();
        let password = format!("{name}-password");
        let mut mac = Hmac::<Sha1>::new_from_slice(self.secret.as_bytes()).unwrap();
        for (i, part) in [
            nonce.as_str(),
            name,
            password.as_str(),
            if admin { "admin" } else { "notadmin" },
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                mac.update(b"\0");
            }
            mac.update(part.as_bytes());
        }
        let digest = hex(&mac.finalize().into_bytes());
        let body = json!({ "nonce": nonce, "username": name, "password": password, "admin": admin, "mac": digest });
        let registered = self.post_json(&endpoint, None, &body).await;
        MatrixUser {
            user_id: registered["user_id"]
                .as_str()
                .expect("a user id")
                .to_owned(),
            access_token: registered["access_token"]
                .as_str()
                .expect("an access token")
                .to_owned(),
        }
    }

    pub async fn get_json(&self, url: &str, token: Option<&str>) -> Value {
        let mut request = self.http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        decode(request.send().await.expect("the homeserver answers")).await
    }

    pub async fn post_json(&self, url: &str, token: Option<&str>, body: &Value) -> Value {
        let mut request = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        decode(request.send().await.expect("the homeserver answers")).await
    }

    pub async fn put_json(&self, url: &str, token: &str, body: &Value) -> Value {
        let request = self
            .http
            .put(url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string());
        decode(request.send().await.expect("the homeserver answers")).await
    }
}

async fn decode(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "homeserver answered {status}: {text}");
    serde_json::from_str(&text).expect("JSON from the homeserver")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The test homeserver's own controls, exported by `scripts/test`.
pub struct SynapseControl {
    python: String,
    config: PathBuf,
}

impl SynapseControl {
    pub fn from_env() -> SynapseControl {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("{name} is not set: scripts/test exports it with the homeserver it starts")
            })
        };
        SynapseControl {
            python: var("HASHCHAT_TEST_SYNAPSE_PYTHON"),
            config: PathBuf::from(var("HASHCHAT_TEST_SYNAPSE_CONFIG")),
        }
    }

    fn pid(&self) -> String {
        let file = self.config.with_file_name("homeserver.pid");
        std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .trim()
            .to_owned()
    }

    /// Stops the homeserver (SIGTERM) and waits until it is gone.
    pub fn stop(&self) {
        let pid = self.pid();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let start = Instant::now();
        while Command::new("kill")
            .args(["-0", &pid])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "Synapse did not stop"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts it again and waits until it answers.
    pub async fn start(&self, server: &Homeserver) {
        let status = Command::new(&self.python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(&self.config)
            .arg("--daemonize")
            .current_dir("/")
            .status()
            .expect("starting Synapse");
        assert!(status.success(), "Synapse did not start again");
        let start = Instant::now();
        let http = reqwest::Client::new();
        loop {
            let healthy = http
                .get(format!("{}/health", server.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if healthy {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "Synapse did not come back"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
