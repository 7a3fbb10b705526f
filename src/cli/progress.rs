//! The progress display on stderr (terminals only, never with -q or JSON logs): the
//! binary's [`Progress`] sink, an `indicatif` bar of bytes done with files done beside
//! it. Log lines written while it shows go through [`suspend`], so they never tear it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vouch::domain::scan::Progress;

/// The bar on screen, if any: log lines clear it, print, and redraw it.
static SHOWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Runs `f` (which writes to stderr) with the bar, if one shows, out of the way.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    let bar = SHOWN.lock().ok().and_then(|b| b.clone());
    match bar {
        Some(b) => b.suspend(f),
        None => f(),
    }
}

pub struct TermProgress {
    bar: Option<ProgressBar>,
    files: AtomicU64,
    done: AtomicU64,
}

impl TermProgress {
    /// A display of `what` ("scanning"), or none when `show` is false.
    pub fn new(show: bool, what: &'static str) -> TermProgress {
        let bar = show.then(|| {
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(5));
            let style = ProgressStyle::with_template(
                "{prefix}: [{bar:30}] {bytes}/{total_bytes}, {msg} ({elapsed}, eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            b.set_style(style);
            b.set_prefix(what);
            if let Ok(mut s) = SHOWN.lock() {
                *s = Some(b.clone());
            }
            b
        });
        TermProgress {
            bar,
            files: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
            if let Ok(mut s) = SHOWN.lock() {
                *s = None;
            }
        }
    }
}

impl Drop for TermProgress {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Progress for TermProgress {
    fn start(&self, files: u64, bytes: u64) {
        if let Some(b) = &self.bar {
            self.files.store(files, Ordering::Relaxed);
            self.done.store(0, Ordering::Relaxed);
            b.reset();
            b.set_length(bytes);
            b.set_message(format!("0/{files} files"));
        }
    }
    fn file_done(&self, bytes: u64) {
        if let Some(b) = &self.bar {
            let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
            b.inc(bytes);
            b.set_message(format!(
                "{done}/{} files",
                self.files.load(Ordering::Relaxed)
            ));
        }
    }
    fn stage(&self, what: &'static str) {
        if let Some(b) = &self.bar {
            b.set_prefix(what);
        }
    }
}
