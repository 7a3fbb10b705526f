//! The scan's progress line on stderr (terminals only): the binary's [`Progress`] sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use vouch::domain::scan::Progress;

/// A one-line progress display on stderr, redrawn a few times a second (terminals only).
pub struct TermProgress {
    state: Arc<ProgressState>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

#[derive(Default)]
struct ProgressState {
    files: AtomicU64,
    bytes: AtomicU64,
    done_files: AtomicU64,
    done_bytes: AtomicU64,
    stop: AtomicBool,
}

impl TermProgress {
    pub fn new(show: bool) -> TermProgress {
        let state = Arc::new(ProgressState::default());
        let thread = show.then(|| {
            let s = state.clone();
            std::thread::spawn(move || {
                let mut drawn = false;
                while !s.stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    let (f, n) = (
                        s.done_files.load(Ordering::Relaxed),
                        s.files.load(Ordering::Relaxed),
                    );
                    if n == 0 {
                        continue;
                    }
                    let (b, t) = (
                        s.done_bytes.load(Ordering::Relaxed),
                        s.bytes.load(Ordering::Relaxed).max(1),
                    );
                    eprint!(
                        "\r\x1b[2Kscanning: {f}/{n} files, {:.0}% of {:.1} MB",
                        b as f64 * 100.0 / t as f64,
                        t as f64 / 1e6
                    );
                    drawn = true;
                }
                if drawn {
                    eprint!("\r\x1b[2K");
                }
            })
        });
        TermProgress {
            state,
            thread: std::sync::Mutex::new(thread),
        }
    }

    pub fn finish(&self) {
        self.state.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}

impl Progress for TermProgress {
    fn start(&self, files: u64, bytes: u64) {
        self.state.files.store(files, Ordering::Relaxed);
        self.state.bytes.store(bytes, Ordering::Relaxed);
    }
    fn file_done(&self, bytes: u64) {
        self.state.done_files.fetch_add(1, Ordering::Relaxed);
        self.state.done_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}
