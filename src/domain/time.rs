//! The one timestamp type of the command line: every `--as-of`, `--from` and `--to`
//! takes a date (`YYYY-MM-DD`, midnight UTC) or an RFC 3339 time, parsed here.

/// A point in time, microseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    micros: i64,
}

impl Timestamp {
    pub fn from_secs(secs: i64) -> Timestamp {
        Timestamp {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    pub fn from_micros(micros: i64) -> Timestamp {
        Timestamp { micros }
    }

    /// A date or a time (RFC 3339; without an offset, UTC), as the runbook tables hold them.
    pub fn parse(s: &str) -> Option<Timestamp> {
        crate::domain::metrics::input::parse_time(s).map(Timestamp::from_micros)
    }

    /// The value of a flag: `{flag} {s:?}: expected …` when it is neither.
    pub fn parse_flag(flag: &str, s: &str) -> Result<Timestamp, String> {
        Timestamp::parse(s)
            .ok_or_else(|| format!("{flag} {s:?}: expected YYYY-MM-DD or an RFC 3339 time"))
    }

    /// Whole seconds (rounded down).
    pub fn secs(self) -> i64 {
        self.micros.div_euclid(1_000_000)
    }

    pub fn micros(self) -> i64 {
        self.micros
    }

    /// The UTC date.
    pub fn date(self) -> chrono::NaiveDate {
        chrono::DateTime::from_timestamp(self.secs(), 0)
            .map(|t| t.date_naive())
            .unwrap_or_default()
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn rfc3339(self) -> String {
        crate::io::encode::rfc3339(self.secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_parse_alike_everywhere() {
        let d = Timestamp::parse_flag("--as-of", "2026-11-27").unwrap();
        assert_eq!(d.secs(), 1_795_737_600);
        assert_eq!(d.rfc3339(), "2026-11-27T00:00:00Z");
        let t = Timestamp::parse_flag("--to", "2026-11-27T12:00:00.750Z").unwrap();
        assert_eq!(t.secs(), 1_795_737_600 + 12 * 3600);
        assert_eq!(t.micros() % 1_000_000, 750_000);
        assert_eq!(t.date().to_string(), "2026-11-27");
        let off = Timestamp::parse("2026-11-27T12:00:00+02:00").unwrap();
        assert_eq!(off.secs(), 1_795_737_600 + 10 * 3600);
        let e = Timestamp::parse_flag("--from", "27/11/2026").unwrap_err();
        assert_eq!(
            e,
            "--from \"27/11/2026\": expected YYYY-MM-DD or an RFC 3339 time"
        );
        assert!(Timestamp::parse("2026-02-30").is_none());
    }
}
