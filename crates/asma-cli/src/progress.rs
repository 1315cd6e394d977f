//! Progress display: a bar on a terminal, plain lines otherwise (logs, CI).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A counter shown as a bar on a terminal and as occasional lines elsewhere.
pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    last_line: std::sync::atomic::AtomicUsize,
}

impl Progress {
    pub fn new(label: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            b.set_message(label.to_string());
            b
        });
        Progress {
            bar,
            label: label.to_string(),
            last_line: 0.into(),
        }
    }

    /// `done` of `total`.
    pub fn update(&self, done: usize, total: usize) {
        match &self.bar {
            Some(b) => {
                b.set_length(total as u64);
                b.set_position(done as u64);
            }
            None => {
                // A line per 10 % at most.
                let decile = (done * 10).checked_div(total).unwrap_or(10);
                if self
                    .last_line
                    .fetch_max(decile + 1, std::sync::atomic::Ordering::Relaxed)
                    < decile + 1
                {
                    eprintln!("{}: {done}/{total}", self.label);
                }
            }
        }
    }

    /// A phase message.
    pub fn message(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.set_message(format!("{} ({msg})", self.label)),
            None => eprintln!("{}: {msg}", self.label),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
