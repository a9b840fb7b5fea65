//! What the load harnesses share: which `hashchat` executable they run, starting it in a
//! scratch directory, reading its memory and CPU time from `/proc`, and summarising samples.

#![allow(dead_code)]

pub mod discord;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The executable under test: `HASHCHAT_BENCH_BIN` (e.g. `target/dist/hashchat`, the deployed
/// build), else the one cargo built for this bench (the release profile).
pub fn hashchat_bin() -> PathBuf {
    std::env::var_os("HASHCHAT_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_hashchat")))
}

/// `hashchat run --config DIR/hashchat.toml`, stdout discarded, stderr into `DIR/LOG`, with
/// `env` added (tokens, passwords) and no database URL inherited from the caller.
pub fn spawn_hashchat(dir: &Path, log: &str, env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(hashchat_bin());
    command
        .args(["run", "--config"])
        .arg(dir.join("hashchat.toml"))
        .current_dir(dir)
        .env_remove("HASHCHAT_DATABASE_URL")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join(log)).expect("a log file"),
        ));
    for (k, v) in env {
        command.env(k, v);
    }
    command.spawn().expect("hashchat starts")
}

/// Writes `DIR/hashchat.toml` (SQLite archive and data in `dir`, warnings only in the log, or
/// the level `HASHCHAT_BENCH_LOG` names, e.g. `warn,hashchat=debug` to time each stage; then
/// `platforms`: `[discord]`, `[matrix]` tables) and one chat, `bench`, in `rooms`, whose
/// points are an hour apart, so a session started during a run stays on its intro.
pub fn write_bot_dir(dir: &Path, platforms: &str, rooms: &[String]) {
    std::fs::create_dir_all(dir.join("chats")).unwrap();
    std::fs::write(
        dir.join("hashchat.toml"),
        format!(
            "[database]\nurl = \"sqlite://{}/hashchat.db\"\n[chats]\ndir = \"chats\"\n[data]\ndir = \"{}/data\"\n[log]\nlevel = \"{}\"\n{platforms}",
            dir.display(),
            dir.display(),
            std::env::var("HASHCHAT_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        ),
    )
    .unwrap();
    let rooms: Vec<String> = rooms.iter().map(|r| format!("\"{r}\"")).collect();
    std::fs::write(
        dir.join("chats/bench.toml"),
        format!(
            "slug = \"bench\"\ntitle = \"Bench\"\nhashtag = \"#bench\"\ndescription = \"d\"\nintro = \"hi\"\nwrap_up = \"bye\"\ntime_zone = \"UTC\"\nminutes_between_points = 60\nintro_minutes = 60\nrooms = [{}]\n[[points]]\ntext = \"One?\"\n",
            rooms.join(", ")
        ),
    )
    .unwrap();
}

/// SIGTERM (the bot's clean stop), then waits for it to exit.
pub fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// A process's memory, in KiB, as the kernel counts it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// Resident set size (`smaps_rollup` `Rss`).
    pub rss: u64,
    /// Proportional set size: shared pages divided among the processes that map them.
    pub pss: u64,
    /// Anonymous resident memory (heap, stacks): the process's own memory.
    pub anon: u64,
    /// File-backed resident memory (the executable's and libraries' pages): `Rss − Anonymous`.
    pub file: u64,
    pub threads: u64,
}

impl Memory {
    pub fn of(pid: u32) -> Memory {
        let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
            .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/smaps_rollup: {e}"));
        let rss = field_kib(&rollup, "Rss");
        let anon = field_kib(&rollup, "Anonymous");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        Memory {
            rss,
            pss: field_kib(&rollup, "Pss"),
            anon,
            file: rss.saturating_sub(anon),
            threads: field_kib(&status, "Threads"),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{:.1} MiB RSS, {:.1} MiB PSS, {:.1} MiB anonymous, {:.1} MiB file-backed, {} threads",
            mib(self.rss),
            mib(self.pss),
            mib(self.anon),
            mib(self.file),
            self.threads
        )
    }
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A `Name:   N kB` line's number (`/proc/PID/status`, `smaps`, `smaps_rollup`).
fn field_kib(text: &str, field: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Where a process's resident memory is, by mapping (`/proc/PID/smaps`): one line per mapped
/// file or kind of anonymous mapping (`[heap]`, `[stack]`, unnamed), largest RSS first, with
/// the number of mappings and their RSS and anonymous KiB. Unnamed anonymous mappings of
/// exactly a thread stack's or an allocator arena's size are told apart by size.
pub fn smaps_by_mapping(pid: u32) -> String {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut totals: std::collections::BTreeMap<String, (u64, u64, u64)> = Default::default();
    let mut current: Option<String> = None;
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        if first.contains('-') && !first.ends_with(':') {
            // A mapping header: `start-end perms offset dev inode [path]`.
            let range: Vec<u64> = first
                .split('-')
                .filter_map(|h| u64::from_str_radix(h, 16).ok())
                .collect();
            let size_kib = match range.as_slice() {
                [a, b] => (b - a) / 1024,
                _ => 0,
            };
            let perms = words.next().unwrap_or_default().to_owned();
            let path: Vec<&str> = words.skip(3).collect();
            let name = if path.is_empty() {
                format!("(anonymous {perms}, {size_kib} KiB mappings)")
            } else {
                path.join(" ")
            };
            totals.entry(name.clone()).or_default().0 += 1;
            current = Some(name);
        } else if let Some(name) = &current {
            let entry = totals.entry(name.clone()).or_default();
            if first == "Rss:" {
                entry.1 += field_kib(line, "Rss");
            } else if first == "Anonymous:" {
                entry.2 += field_kib(line, "Anonymous");
            }
        }
    }
    let mut rows: Vec<_> = totals.into_iter().filter(|(_, t)| t.1 > 0).collect();
    rows.sort_by_key(|(_, (_, rss, _))| std::cmp::Reverse(*rss));
    let mut out = format!(
        "{:>8} {:>8} {:>5}  mapping\n",
        "RSS KiB", "anon KiB", "count"
    );
    for (name, (count, rss, anon)) in rows {
        out.push_str(&format!("{rss:>8} {anon:>8} {count:>5}  {name}\n"));
    }
    out
}

/// CPU time the process has used, user and system (`/proc/PID/stat`, in clock ticks of 10 ms).
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name, field 2, may hold spaces: count the fields after its closing parenthesis.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Sorts `samples`, prints one line (median, p90, min, max, n) and returns the median and the
/// p90 in milliseconds.
pub fn summary(name: &str, samples: &mut [Duration]) -> (f64, f64) {
    assert!(!samples.is_empty(), "no samples for {name}");
    samples.sort();
    let median = ms(samples[samples.len() / 2]);
    let p90 = ms(samples[samples.len() * 9 / 10]);
    println!(
        "  {name:<44} median {median:8.3} ms   p90 {p90:8.3} ms   (min {:.3}, max {:.3}, n={})",
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
        samples.len()
    );
    (median, p90)
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The load on the machine now (`/proc/loadavg`: 1, 5 and 15 minutes), to print beside the
/// figures: these machines are shared.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where a harness keeps what it wants read afterwards (bot logs, smaps breakdowns).
pub fn keep(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).expect("target/tmp is writable");
    path
}
