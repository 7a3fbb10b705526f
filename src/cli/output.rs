//! Writing an outcome to stdout: pretty JSON or its text form; a reader that stopped
//! reading (`| head`) ends the command quietly with the exit code of what it found.

use std::io::Write;
use std::path::Path;

use crate::cli::args::Format;

/// An outcome on stdout: pretty JSON, or its text form.
pub fn print<T: serde::Serialize>(
    format: Format,
    value: &T,
    text: impl FnOnce() -> String,
) -> std::io::Result<()> {
    // Buffered: stdout is line-buffered, and a report may run to a million lines.
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = match format {
        Format::Json => serde_json::to_writer_pretty(&mut stdout, value)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(stdout)),
        Format::Text => write!(stdout, "{}", text()),
    }
    .and_then(|_| stdout.flush());
    quiet_on_closed_stdout(written)
}

/// Bytes on stdout unless they went to `--out` already.
pub fn print_unless_written(out: Option<&Path>, bytes: &[u8]) -> std::io::Result<()> {
    if out.is_some() {
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    quiet_on_closed_stdout(stdout.write_all(bytes).and_then(|_| stdout.flush()))
}

fn quiet_on_closed_stdout(written: std::io::Result<()>) -> std::io::Result<()> {
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// The problems of an outcome (files not read, inputs refused), each a warning event:
/// `vouch: LINE` in text logs, a `problem` line in JSON logs; shown even with `-q`.
pub fn errors(lines: &[String]) {
    for l in lines {
        tracing::warn!(event = "problem", "{l}");
    }
}
