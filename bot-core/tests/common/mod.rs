//! Runs one store test body against a fresh SQLite file or a fresh PostgreSQL schema.
//!
//! PostgreSQL comes from `HASHCHAT_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Each test gets its own schema, selected with
//! `options=-c search_path=…` in the URL, and drops it afterwards, so tests run in parallel.
//! If PostgreSQL cannot be reached the postgres tests fail; they never skip.

#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bot_core::store::{redact_url, Store};
use sqlx::{AssertSqlSafe, Connection, Executor};

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Instantiates each named `async fn(Store)` as `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    $crate::common::run_sqlite(super::$name).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    $crate::common::run_postgres(super::$name).await
                }
            )*
        }
    };
}

pub async fn run_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    // A directory that does not exist yet: connect must create it.
    let url = format!("sqlite://{}/data/store.db", dir.path().display());
    let store = Store::connect(&url).await.expect("opening SQLite");
    store.migrate().await.expect("migrating SQLite");
    let outcome = tokio::spawn(body(store.clone())).await;
    store.close().await;
    drop(dir);
    propagate(outcome);
}

pub async fn run_postgres<F, Fut>(body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let base = std::env::var("HASHCHAT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the PostgreSQL store tests need a server: could not connect to {} ({e}). \
             Start PostgreSQL or point HASHCHAT_TEST_POSTGRES_URL at one.",
                redact_url(&base)
            )
        });
    let schema = unique_schema();
    admin
        .execute(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .await
        .expect("creating a test schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");

    let outcome = async {
        let store = Store::connect(&url)
            .await
            .expect("connecting to PostgreSQL");
        store.migrate().await.expect("migrating PostgreSQL");
        let outcome = tokio::spawn(body(store.clone())).await;
        store.close().await;
        outcome
    }
    .await;

    admin
        .execute(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .await
        .expect("dropping the test schema");
    admin.close().await.ok();
    propagate(outcome);
}

fn unique_schema() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "hc_test_{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn propagate(outcome: Result<(), tokio::task::JoinError>) {
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("test body did not finish: {e}"),
        }
    }
}
