//! stderr: every line vouch writes there is a `tracing` event, written by [`Lines`] as
//! text (`vouch: …`, for people) or as one JSON object a line (`--log-format json`, for
//! log shippers: timestamp, level, command, event, message, duration_ms and the event's
//! own fields), with a final `exit` line. Which events show: `-q` warnings and errors,
//! default info, `-v` debug, `-vv` trace; `VOUCH_LOG` (else `RUST_LOG`) takes filter
//! directives instead (`vouch=debug,aws_config=info`). Other crates' events show only
//! when a directive names them: the SDKs' debug events carry object keys, and an object
//! key may hold an identifier partition's value.
//!
//! Events never carry a subject ID (the library's errors and summaries hold keyed hashes
//! only); a fatal error and the exit line are written whatever the filter says.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{EnvFilter, Layer};

use crate::cli::args::LogFormat;

struct Logging {
    json: bool,
    command: &'static str,
    started: Instant,
}

static LOGGING: OnceLock<Logging> = OnceLock::new();

fn logging() -> &'static Logging {
    LOGGING.get_or_init(|| Logging {
        json: false,
        command: "vouch",
        started: Instant::now(),
    })
}

/// How much shows on stderr.
#[derive(Clone, Copy)]
pub enum Verbosity {
    Quiet,
    Normal,
    Debug,
    Trace,
}

impl Verbosity {
    pub fn of(quiet: bool, verbose: u8) -> Verbosity {
        match (quiet, verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, 1) => Verbosity::Debug,
            _ => Verbosity::Trace,
        }
    }
}

/// Installs the subscriber for `command`. A bad `VOUCH_LOG` or `RUST_LOG` is an error
/// naming the variable (exit 2), not a silently different filter.
pub fn init(format: LogFormat, verbosity: Verbosity, command: &'static str) -> Result<(), String> {
    let _ = LOGGING.set(Logging {
        json: matches!(format, LogFormat::Json),
        command,
        started: Instant::now(),
    });
    let directives = ["VOUCH_LOG", "RUST_LOG"]
        .iter()
        .find_map(|var| match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Some((*var, v)),
            _ => None,
        });
    let filter = match directives {
        Some((var, v)) => EnvFilter::builder()
            .with_regex(false)
            .parse(&v)
            .map_err(|e| format!("{var}={v:?}: not a tracing filter: {e}"))?,
        None => EnvFilter::new(match verbosity {
            Verbosity::Quiet => "vouch=warn",
            Verbosity::Normal => "vouch=info",
            Verbosity::Debug => "vouch=debug",
            Verbosity::Trace => "vouch=trace",
        }),
    };
    let subscriber = tracing_subscriber::registry().with(Lines.with_filter(filter));
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| format!("cannot install the logger: {e}"))
}

/// A fatal error: the command's last line before [`finish`], whatever the filter.
pub fn fatal(message: &str) {
    write_line(
        &Level::ERROR,
        "vouch",
        "fatal",
        message,
        serde_json::Map::new(),
    );
}

/// The JSON log's final line: the exit code and the command's duration (text logs end
/// with the command's own last line).
pub fn finish(code: u8) {
    let l = logging();
    if l.json {
        let mut fields = serde_json::Map::new();
        fields.insert("exit_code".into(), code.into());
        let what = match code {
            0 => "holds",
            1 => "violation",
            _ => "error",
        };
        fields.insert("outcome".into(), what.into());
        write_line(
            &Level::INFO,
            "vouch",
            "exit",
            &format!("{} exited {code} ({what})", l.command),
            fields,
        );
    }
}

/// A usage error from the argument parser, before logging is set up: clap's own text, or
/// one JSON line when the arguments asked for JSON logs.
pub fn usage_error(json: bool, rendered: &str) {
    if json {
        let _ = LOGGING.set(Logging {
            json: true,
            command: "vouch",
            started: Instant::now(),
        });
        write_line(
            &Level::ERROR,
            "vouch",
            "usage",
            rendered.trim_end(),
            serde_json::Map::new(),
        );
        finish(2);
    } else {
        eprint!("{rendered}");
    }
}

/// The layer that writes each event as one line.
struct Lines;

impl<S: Subscriber> Layer<S> for Lines {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let meta = event.metadata();
        let name = f.event.take().unwrap_or_else(|| "log".to_string());
        write_line(meta.level(), meta.target(), &name, &f.message, f.rest);
    }
}

fn write_line(
    level: &Level,
    target: &str,
    event: &str,
    message: &str,
    mut fields: serde_json::Map<String, serde_json::Value>,
) {
    let l = logging();
    let line = if l.json {
        let mut m = serde_json::Map::new();
        m.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        m.insert("level".into(), level.as_str().to_lowercase().into());
        m.insert("command".into(), l.command.into());
        m.insert("event".into(), event.into());
        m.insert("message".into(), message.into());
        if !target.starts_with("vouch") {
            m.insert("target".into(), target.into());
        }
        m.append(&mut fields);
        m.insert(
            "duration_ms".into(),
            (l.started.elapsed().as_millis() as u64).into(),
        );
        serde_json::Value::Object(m).to_string()
    } else {
        let own = target == "vouch" || target.starts_with("vouch::");
        match (*level, own) {
            (Level::ERROR, true) => format!("vouch: error: {message}"),
            (Level::WARN | Level::INFO, true) => format!("vouch: {message}"),
            (lv, true) => format!("vouch: {}: {message}", lv.as_str().to_lowercase()),
            (lv, false) => format!("vouch: {} {target}: {message}", lv.as_str().to_lowercase()),
        }
    };
    crate::cli::progress::suspend(|| {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    });
}

/// An event's fields: `message`, `event` (the JSON line's event name) and the rest.
#[derive(Default)]
struct Fields {
    message: String,
    event: Option<String>,
    rest: serde_json::Map<String, serde_json::Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "event" => self.event = Some(value.to_string()),
            n => {
                self.rest.insert(n.to_string(), value.into());
            }
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.rest.insert(field.name().to_string(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.rest.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.rest.insert(field.name().to_string(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.rest.insert(field.name().to_string(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}
