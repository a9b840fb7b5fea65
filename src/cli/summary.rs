//! What `hashchat run` started and skipped, printed as its first lines.

/// The lines, in the order the parts started.
#[derive(Default)]
pub struct Summary {
    lines: Vec<(&'static str, String, bool)>,
}

impl Summary {
    pub fn started(&mut self, part: &'static str, detail: &str) {
        self.lines.push((part, detail.to_owned(), true));
    }

    pub fn skipped(&mut self, part: &'static str, why: &str) {
        self.lines.push((part, why.to_owned(), false));
    }

    /// On standard output, for the person who started it; the log has the same facts, but
    /// never a one-time sign-in link (`secret` marks the lines that hold one).
    pub fn print(&self, secret: Option<&str>) {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "hashchat {} is running:", env!("CARGO_PKG_VERSION"));
        for (part, detail, started) in &self.lines {
            let what = if *started { "started" } else { "skipped" };
            let _ = writeln!(out, "  {part:<13} {what}: {detail}");
            match secret {
                Some(secret) if detail.contains(secret) => {
                    tracing::info!(
                        part,
                        "started (the one-time sign-in link is on the console)"
                    )
                }
                _ if *started => tracing::info!(part, detail = %detail, "started"),
                _ => tracing::info!(part, why = %detail, "skipped"),
            }
        }
        let _ = writeln!(out, "Stop it with Ctrl-C.");
        let _ = out.flush();
    }
}
