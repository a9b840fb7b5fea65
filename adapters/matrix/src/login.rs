//! Signing in, once: the first start logs in (or adopts a given access token) and keeps the
//! session under the data directory beside the device's encryption store; every later start
//! restores that same device. A fresh login on each start would leave a trail of devices and
//! make every encrypted room's history unreadable to the bot.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::{RequestConfig, StoreConfig};
use matrix_sdk::cross_process_lock::CrossProcessLockConfig;
use matrix_sdk::ruma::{OwnedDeviceId, OwnedUserId};
use matrix_sdk::SqliteCryptoStore;
use matrix_sdk::{Client, SessionMeta, SessionTokens};
use serde::{Deserialize, Serialize};

use crate::config::{MatrixConfig, ACCESS_TOKEN_ENV, PASSWORD_ENV};

use crate::MatrixError;

/// What is kept between starts (readable by the bot's user only: it holds the access token).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedSession {
    homeserver: String,
    user_id: String,
    device_id: String,
    access_token: String,
}

/// The credentials the operator gave, from the environment or from files named in the config.
pub struct Credentials {
    access_token: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret, not even by accident in a debug log.
        f.debug_struct("Credentials")
            .field("access_token", &self.access_token.as_ref().map(|_| "…"))
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

impl Credentials {
    pub fn from_config(config: &MatrixConfig) -> Result<Credentials, MatrixError> {
        Ok(Credentials {
            access_token: secret(ACCESS_TOKEN_ENV, config.access_token_file.as_deref())?,
            password: secret(PASSWORD_ENV, config.password_file.as_deref())?,
        })
    }
}

fn secret(env: &str, file: Option<&Path>) -> Result<Option<String>, MatrixError> {
    if let Some(v) = std::env::var(env).ok().filter(|v| !v.trim().is_empty()) {
        return Ok(Some(v.trim().to_owned()));
    }
    let Some(path) = file else { return Ok(None) };
    let text = std::fs::read_to_string(path).map_err(|e| {
        MatrixError::Config(format!(
            "cannot read the secret file {}: {e}",
            path.display()
        ))
    })?;
    let text = text.trim();
    if text.is_empty() {
        return Err(MatrixError::Config(format!(
            "the secret file {} is empty",
            path.display()
        )));
    }
    Ok(Some(text.to_owned()))
}

/// Where the bot keeps its Matrix state: `DATA/matrix/`.
pub fn matrix_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("matrix")
}

fn session_path(dir: &Path) -> PathBuf {
    dir.join("session.json")
}

/// Builds a client whose encryption keys live in `DATA/matrix/<device>/` and whose room state
/// is held in memory (see [`crate::room_state`]).
async fn client_for_device(
    config: &MatrixConfig,
    dir: &Path,
    device_id: &str,
) -> Result<Client, MatrixError> {
    let store = dir.join(sanitise(device_id));
    let crypto = SqliteCryptoStore::open(&store, None).await.map_err(|e| {
        MatrixError::Connect(format!(
            "cannot open the Matrix key store in {}: {e}",
            store.display()
        ))
    })?;
    Client::builder()
        .homeserver_url(&config.homeserver)
        .store_config(StoreConfig::new(CrossProcessLockConfig::SingleProcess).crypto_store(crypto))
        // Fail a request within bounds and let the caller decide: the engine retries posts, the
        // sync loop retries with backoff, and a homeserver that is down is reported as such.
        .request_config(
            RequestConfig::new()
                .retry_limit(2)
                .timeout(Duration::from_secs(30)),
        )
        .build()
        .await
        .map_err(|e| MatrixError::Connect(format!("cannot set up the Matrix client: {e}")))
}

/// Restores the saved device, or signs in for the first time, and returns a ready client.
pub async fn sign_in(
    config: &MatrixConfig,
    data_dir: &Path,
    credentials: &Credentials,
) -> Result<Client, MatrixError> {
    let dir = matrix_dir(data_dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| MatrixError::Config(format!("cannot create {}: {e}", dir.display())))?;
    let saved =
        read_saved(&dir)?.filter(|s| s.homeserver == config.homeserver && s.user_id == config.user);
    // A token given by the operator wins over a saved one: it is how a token is rotated.
    if let Some(token) = &credentials.access_token {
        if saved.as_ref().is_none_or(|s| &s.access_token != token) {
            return adopt_token(config, &dir, token).await;
        }
    }
    if let Some(saved) = saved {
        let client = client_for_device(config, &dir, &saved.device_id).await?;
        restore(&client, &saved).await?;
        match client.whoami().await {
            Ok(_) => {
                tracing::info!(user = %saved.user_id, device = %saved.device_id, "restored the Matrix session");
                return Ok(client);
            }
            Err(e)
                if e.as_client_api_error()
                    .is_some_and(|a| a.status_code.as_u16() == 401) =>
            {
                // The token was revoked: sign in again as the same device, keeping its keys.
                tracing::warn!(device = %saved.device_id, "the saved Matrix token was refused; signing in again");
                drop(client);
                return password_login(config, &dir, credentials, Some(&saved.device_id)).await;
            }
            Err(e) => {
                // The homeserver may simply be down; the saved session is still good.
                tracing::warn!(error = %e, "could not check the Matrix session now; going on with it");
                return Ok(client);
            }
        }
    }
    password_login(config, &dir, credentials, None).await
}

async fn adopt_token(
    config: &MatrixConfig,
    dir: &Path,
    token: &str,
) -> Result<Client, MatrixError> {
    // Learn the token's device with a bare client first: the store belongs to that device.
    let probe = Client::builder()
        .homeserver_url(&config.homeserver)
        .build()
        .await
        .map_err(|e| MatrixError::Connect(e.to_string()))?;
    probe
        .restore_session(MatrixSession {
            meta: SessionMeta {
                user_id: parse_user(&config.user)?,
                device_id: OwnedDeviceId::from("PROBE"),
            },
            tokens: SessionTokens {
                access_token: token.to_owned(),
                refresh_token: None,
            },
        })
        .await
        .map_err(|e| MatrixError::Connect(e.to_string()))?;
    let who = probe
        .whoami()
        .await
        .map_err(|e| MatrixError::Login(format!("the access token was refused: {e}")))?;
    if who.user_id.as_str() != config.user {
        return Err(MatrixError::Login(format!(
            "the access token belongs to {}, not to {} (matrix.user)",
            who.user_id, config.user
        )));
    }
    let device_id = who.device_id.ok_or_else(|| {
        MatrixError::Login(
            "the access token has no device; create one by logging in with a password".into(),
        )
    })?;
    let saved = SavedSession {
        homeserver: config.homeserver.clone(),
        user_id: config.user.clone(),
        device_id: device_id.to_string(),
        access_token: token.to_owned(),
    };
    let client = client_for_device(config, dir, &saved.device_id).await?;
    restore(&client, &saved).await?;
    write_saved(dir, &saved)?;
    tracing::info!(user = %saved.user_id, device = %saved.device_id, "adopted the given Matrix access token");
    Ok(client)
}

async fn password_login(
    config: &MatrixConfig,
    dir: &Path,
    credentials: &Credentials,
    device_id: Option<&str>,
) -> Result<Client, MatrixError> {
    let Some(password) = &credentials.password else {
        return Err(MatrixError::Login(format!(
            "no Matrix credentials: set {ACCESS_TOKEN_ENV} or {PASSWORD_ENV} \
             (or matrix.access_token_file / matrix.password_file in the config)"
        )));
    };
    // We name the device ourselves, so its store can be made before the login creates it.
    let device_id = device_id.map_or_else(new_device_id, str::to_owned);
    let client = client_for_device(config, dir, &device_id).await?;
    let response = client
        .matrix_auth()
        .login_username(&config.user, password)
        .device_id(&device_id)
        .initial_device_display_name(&config.device_name)
        .send()
        .await
        .map_err(|e| MatrixError::Login(format!("logging in as {} failed: {e}", config.user)))?;
    let saved = SavedSession {
        homeserver: config.homeserver.clone(),
        user_id: response.user_id.to_string(),
        device_id: response.device_id.to_string(),
        access_token: response.access_token.clone(),
    };
    write_saved(dir, &saved)?;
    tracing::info!(user = %saved.user_id, device = %saved.device_id, "logged in to Matrix");
    Ok(client)
}

async fn restore(client: &Client, saved: &SavedSession) -> Result<(), MatrixError> {
    client
        .restore_session(MatrixSession {
            meta: SessionMeta {
                user_id: parse_user(&saved.user_id)?,
                device_id: OwnedDeviceId::from(saved.device_id.as_str()),
            },
            tokens: SessionTokens {
                access_token: saved.access_token.clone(),
                refresh_token: None,
            },
        })
        .await
        .map_err(|e| MatrixError::Login(format!("cannot restore the Matrix session: {e}")))
}

fn parse_user(id: &str) -> Result<OwnedUserId, MatrixError> {
    OwnedUserId::try_from(id)
        .map_err(|e| MatrixError::Config(format!("`{id}` is not a user id: {e}")))
}

fn new_device_id() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    format!("HASHCHAT{}", &random[..10])
}

fn sanitise(device_id: &str) -> String {
    device_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn read_saved(dir: &Path) -> Result<Option<SavedSession>, MatrixError> {
    let path = session_path(dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            MatrixError::Config(format!(
                "{}: not a saved session ({e}); move it away to log in afresh",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(MatrixError::Config(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn write_saved(dir: &Path, saved: &SavedSession) -> Result<(), MatrixError> {
    let path = session_path(dir);
    let tmp = dir.join("session.json.tmp");
    let write = || -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(
            serde_json::to_string_pretty(saved)
                .unwrap_or_default()
                .as_bytes(),
        )?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| MatrixError::Config(format!("cannot save {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_in_debug_output() {
        let c = Credentials {
            access_token: Some("syt_secret".into()),
            password: Some("hunter2".into()),
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("syt_secret") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn the_saved_session_is_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let saved = SavedSession {
            homeserver: "http://127.0.0.1:1".into(),
            user_id: "@bot:x".into(),
            device_id: "HASHCHATABC".into(),
            access_token: "t".into(),
        };
        write_saved(dir.path(), &saved).unwrap();
        let back = read_saved(dir.path()).unwrap().unwrap();
        assert_eq!(back.device_id, "HASHCHATABC");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(session_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_corrupt_session_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(session_path(dir.path()), "{not json").unwrap();
        let e = read_saved(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("session.json") && e.contains("log in afresh"),
            "{e}"
        );
    }

    #[test]
    fn generated_device_ids_are_distinct_and_path_safe() {
        let a = new_device_id();
        let b = new_device_id();
        assert_ne!(a, b);
        assert_eq!(sanitise(&a), a);
        assert_eq!(sanitise("../x"), "___x");
    }
}
