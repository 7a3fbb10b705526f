//! The text form of a metrics report: one table of figures per group, then the lists and
//! the breaches.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{
    ChangeFigures, CostFigures, DsarFigures, Figures, Grouped, HoldsFigures, IncidentFigures,
    JobsFigures, Report,
};

/// Ids shown per list in text (JSON has them all).
const SHOWN: usize = 20;

impl Report {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} as of {} ({})",
            self.metric.to_uppercase(),
            self.as_of,
            self.input
        );
        match &self.figures {
            Figures::Incidents(g) => incidents(&mut s, g),
            Figures::Dsar(g) => dsar(&mut s, g),
            Figures::Changes(g) => changes(&mut s, g),
            Figures::Jobs(j) => jobs(&mut s, j),
            Figures::Holds(h) => holds(&mut s, h),
            Figures::Costs(g) => costs(&mut s, g),
        }
        if self.breaches.is_empty() {
            let _ = writeln!(s, "\nwithin targets");
        } else {
            let _ = writeln!(s);
        }
        for b in &self.breaches {
            let _ = writeln!(s, "BREACH: {}", b.message);
        }
        s
    }
}

/// Rows of a table: ("all", figures), then each group as "<kind> <value>".
fn rows<'a, F>(g: &'a Grouped<F>) -> Vec<(String, &'a F)> {
    let mut out = vec![("all".to_string(), &g.all)];
    let mut add = |kind: &str, m: &'a Option<BTreeMap<String, F>>| {
        for (k, f) in m.iter().flatten() {
            out.push((format!("{kind} {k}"), f));
        }
    };
    add("severity", &g.by_severity);
    add("type", &g.by_type);
    add("impact", &g.by_impact);
    add("job", &g.by_job);
    add("service", &g.by_service);
    add("jurisdiction", &g.by_jurisdiction);
    add("month", &g.by_month);
    out
}

fn list(s: &mut String, name: &str, ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    let shown: Vec<&str> = ids.iter().take(SHOWN).map(String::as_str).collect();
    let more = if ids.len() > SHOWN {
        format!(" … and {} more", ids.len() - SHOWN)
    } else {
        String::new()
    };
    let _ = writeln!(s, "{name} ({}): {}{more}", ids.len(), shown.join(", "));
}

fn rate(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{:.1}%", r * 100.0))
}

/// Seconds as `1d 02h`, `3h 05m`, `4m 07s` or `12s`.
pub fn duration(secs: Option<f64>) -> String {
    let Some(t) = secs else {
        return "-".into();
    };
    let t = t.round() as i64;
    let (d, h, m, sec) = (t / 86_400, t / 3_600 % 24, t / 60 % 60, t % 60);
    if d > 0 {
        format!("{d}d {h:02}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {sec:02}s")
    } else {
        format!("{sec}s")
    }
}

fn days(d: Option<f64>) -> String {
    d.map_or("-".into(), |d| format!("{d:.1}"))
}

fn incidents(s: &mut String, g: &Grouped<IncidentFigures>) {
    let _ = writeln!(
        s,
        "\n{:<24} {:>7} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "GROUP", "COUNT", "OPEN", "MTTA", "p50", "p90", "MTTR", "p50", "p90", "ACK<=5m", "PM<=48h"
    );
    for (name, f) in rows(g) {
        let _ = writeln!(
            s,
            "{:<24} {:>7} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}",
            name,
            f.count,
            f.open,
            duration(f.mtta_mean_seconds),
            duration(f.mtta_p50_seconds),
            duration(f.mtta_p90_seconds),
            duration(f.mttr_mean_seconds),
            duration(f.mttr_p50_seconds),
            duration(f.mttr_p90_seconds),
            rate(f.ack_within_5m_rate),
            rate(f.postmortem_within_48h_rate),
        );
    }
    let _ = writeln!(s);
    list(s, "unacknowledged", &g.all.unacknowledged);
    list(s, "missing postmortem", &g.all.missing_postmortem);
}

fn dsar(s: &mut String, g: &Grouped<DsarFigures>) {
    let _ = writeln!(
        s,
        "\n{:<24} {:>9} {:>9} {:>6} {:>8} {:>9} {:>9} {:>8} {:>8}",
        "GROUP",
        "REQUESTS",
        "COMPLETED",
        "OPEN",
        "ON TIME",
        "P50 DAYS",
        "P90 DAYS",
        "OVERDUE",
        "AT RISK"
    );
    for (name, f) in rows(g) {
        let _ = writeln!(
            s,
            "{:<24} {:>9} {:>9} {:>6} {:>8} {:>9} {:>9} {:>8} {:>8}",
            name,
            f.requests,
            f.completed,
            f.open,
            rate(f.on_time_rate),
            days(f.days_to_complete_p50),
            days(f.days_to_complete_p90),
            f.overdue.len(),
            f.at_risk.len(),
        );
    }
    let _ = writeln!(s);
    list(s, "overdue", &g.all.overdue);
    list(s, "at risk (due within 5 days)", &g.all.at_risk);
    list(s, "receipt not confirmed in time", &g.all.receipt_late);
}

fn changes(s: &mut String, g: &Grouped<ChangeFigures>) {
    let _ = writeln!(
        s,
        "\n{:<24} {:>8} {:>12} {:>6} {:>8} {:>9}",
        "GROUP", "CHANGES", "ON TIME 2BD", "LATE", "PENDING", "ESCALATE"
    );
    for (name, f) in rows(g) {
        let _ = writeln!(
            s,
            "{:<24} {:>8} {:>12} {:>6} {:>8} {:>9}",
            name,
            f.changes,
            rate(f.reviewed_within_2bd_rate),
            f.late.len(),
            f.pending.len(),
            f.escalations.len(),
        );
    }
    let _ = writeln!(s);
    list(s, "late", &g.all.late);
    list(s, "pending", &g.all.pending);
    list(s, "escalate (regulatory impact)", &g.all.escalations);
}

fn jobs(s: &mut String, j: &JobsFigures) {
    let _ = writeln!(
        s,
        "\n{:<32} {:>7} {:>7} {:>8} {:>10} {:>9} {:>9} {:>12}",
        "GROUP", "RUNS", "FAILED", "FAIL %", "RECOVERY", "p50", "p90", "UNRECOVERED"
    );
    for (name, f) in rows(&j.runs) {
        let _ = writeln!(
            s,
            "{:<32} {:>7} {:>7} {:>8} {:>10} {:>9} {:>9} {:>12}",
            name,
            f.runs,
            f.failed,
            rate(f.failure_rate),
            duration(f.recovery_mean_seconds),
            duration(f.recovery_p50_seconds),
            duration(f.recovery_p90_seconds),
            f.unrecovered.len(),
        );
    }
    let _ = writeln!(s);
    list(s, "unrecovered failed runs", &j.runs.all.unrecovered);
    for d in &j.stale_datasets {
        let _ = writeln!(
            s,
            "behind: {} missed {} cycle(s) of {} (last success {})",
            d.dataset,
            d.missed_cycles,
            duration(Some(d.cycle_seconds)),
            d.last_success.as_deref().unwrap_or("never")
        );
    }
    list(
        s,
        "notify stakeholders (more than one cycle behind)",
        &j.notify_required,
    );
    list(s, "cycle unknown (set [jobs.cycles])", &j.cycle_unknown);
}

fn costs(s: &mut String, g: &Grouped<CostFigures>) {
    let _ = writeln!(
        s,
        "\n{:<24} {:>9} {:>6} {:>10} {:>9} {:>9} {:>12} {:>9}",
        "GROUP", "ANOMALIES", "OPEN", "MITIGATE", "p50", "p90", "EXCESS USD", "OVER 80%"
    );
    for (name, f) in rows(g) {
        let _ = writeln!(
            s,
            "{:<24} {:>9} {:>6} {:>10} {:>9} {:>9} {:>12} {:>9}",
            name,
            f.anomalies,
            f.open,
            duration(f.mitigate_mean_seconds),
            duration(f.mitigate_p50_seconds),
            duration(f.mitigate_p90_seconds),
            f.excess_cost_usd.map_or("-".into(), |x| format!("{x:.2}")),
            f.over_budget_80.len(),
        );
    }
    let _ = writeln!(s);
    list(s, "open", &g.all.open_anomalies);
    list(s, "over 80% of budget", &g.all.over_budget_80);
    list(s, "mitigated, not in the incident log", &g.all.unlogged);
}

fn holds(s: &mut String, h: &HoldsFigures) {
    let _ = writeln!(s);
    list(s, "datasets under legal hold", &h.held_datasets);
    list(
        s,
        "undocumented holds (no reason or reviewer)",
        &h.undocumented_holds,
    );
    list(
        s,
        "holds without hold_set_at (every purge run checked)",
        &h.holds_without_set_at,
    );
    for p in &h.purges_under_hold {
        let _ = writeln!(
            s,
            "purge under hold: run {} of {} on {} started {} (hold set {})",
            p.run_id,
            p.job_name,
            p.dataset,
            p.started_at,
            p.hold_set_at.as_deref().unwrap_or("at an unknown time")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(Some(300.0)), "5m 00s");
        assert_eq!(duration(Some(301.0)), "5m 01s");
        assert_eq!(duration(Some(172_800.0)), "2d 00h");
        assert_eq!(duration(Some(7_260.0)), "2h 01m");
        assert_eq!(duration(Some(59.4)), "59s");
        assert_eq!(duration(None), "-");
    }
}
