//! `report.html`: the nightly report as one self-contained page (inline CSS and SVG, no
//! script, nothing fetched), summary first, a red or green line per check, then charts.

use std::fmt::Write;

use serde_json::Value;

use crate::domain::nightly_report::{NightlyReport, Status};

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Skipped => "skipped",
        Status::Violation => "violation",
        Status::Error => "error",
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Ok => "OK",
        Status::Skipped => "skipped",
        Status::Violation => "VIOLATION",
        Status::Error => "ERROR",
    }
}

const STYLE: &str = "body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:62rem;padding:0 1rem;color:#1d2330}
h1{font-size:1.5rem;margin:0 0 .2rem}h2{font-size:1.15rem;margin:2rem 0 .6rem}
.meta{color:#5b6475;margin:0 0 1.2rem}
.verdict{padding:.8rem 1rem;border-radius:6px;font-weight:600;margin:1rem 0}
.verdict.ok,.verdict.skipped{background:#e5f5ea;color:#14532d}.verdict.violation{background:#fdecec;color:#7f1d1d}.verdict.error{background:#fff4e0;color:#7c2d12}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #e3e6ec;vertical-align:top}
.badge{display:inline-block;min-width:5.5rem;text-align:center;border-radius:4px;padding:.1rem .4rem;font-size:.8rem;font-weight:700}
.badge.ok{background:#16a34a;color:#fff}.badge.violation{background:#dc2626;color:#fff}.badge.error{background:#ea580c;color:#fff}.badge.skipped{background:#cbd5e1;color:#334155}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.chart{border:1px solid #e3e6ec;border-radius:6px;padding:.5rem;max-width:100%;box-sizing:border-box}
.chart svg{display:block;max-width:100%;height:auto}td,p,li{overflow-wrap:anywhere}
@media (max-width:40rem){body{margin:1rem auto;padding:0 .5rem}td,th{word-break:break-all;padding:.3rem}}
code{font-size:.85em}ul{margin:.2rem 0 .2rem 1.2rem;padding:0}";

/// Earlier nights' reports for the trend charts, oldest first (tonight's included), and
/// the history files that are not nightly reports.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub nights: Vec<Value>,
    pub unreadable: Vec<String>,
}

pub fn render(r: &NightlyReport, history: &History) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>vouch nightly report {}</title><style>{STYLE}</style></head><body>\n",
        esc(&r.as_of)
    );
    let _ = writeln!(s, "<h1>vouch nightly report</h1>");
    let _ = writeln!(
        s,
        "<p class=\"meta\">as of {} · {} · exit code {}</p>",
        esc(&r.as_of),
        esc(&r.tool),
        r.exit_code
    );
    let broken = r
        .checks
        .iter()
        .filter(|c| matches!(c.status, Status::Violation | Status::Error))
        .count();
    let headline = match r.status {
        Status::Ok | Status::Skipped => "All checks passed.".to_string(),
        Status::Violation => format!("{broken} check(s) found a broken promise."),
        Status::Error => format!("{broken} check(s) failed or could not decide."),
    };
    let _ = writeln!(
        s,
        "<div id=\"summary\" class=\"verdict {}\">{}</div>",
        status_class(r.status),
        esc(&headline)
    );
    let _ = writeln!(
        s,
        "<table><tr><th>check</th><th>status</th><th>summary</th></tr>"
    );
    for c in &r.checks {
        let _ = writeln!(
            s,
            "<tr class=\"check {cls}\"><td>{}</td><td><span class=\"badge {cls}\">{}</span></td><td>{}</td></tr>",
            esc(&c.check.replace('_', " ")),
            status_word(c.status),
            esc(&c.summary),
            cls = status_class(c.status)
        );
    }
    let _ = writeln!(s, "</table>");

    let _ = writeln!(s, "<h2>Charts</h2><div class=\"charts\">");
    let get = |check: &str| {
        r.checks
            .iter()
            .find(|c| c.check == check)
            .map(|c| &c.details)
    };
    if let Some(by_table) = get("deletion_verification")
        .and_then(|d| d.get("residual_rows_by_table"))
        .and_then(Value::as_object)
    {
        let items: Vec<(String, f64)> = by_table
            .iter()
            .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(0.0)))
            .collect();
        s.push_str(&bar_chart("Residual rows by table", &items, "rows", None));
    }
    let metrics = get("metrics");
    if let Some(hist) = metrics
        .and_then(|m| m.pointer("/dsar/days_to_complete_histogram"))
        .and_then(Value::as_array)
    {
        let bins = crate::domain::metrics::HISTOGRAM_BIN_DAYS;
        let last = hist.len().saturating_sub(1);
        let items: Vec<(String, f64)> = hist
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let from = i as f64 * bins;
                let label = if i == last {
                    format!("{from:.0}+")
                } else {
                    format!("{from:.0}–{:.0}", from + bins)
                };
                (label, v.as_f64().unwrap_or(0.0))
            })
            .collect();
        // The deadline is one calendar month: 28 to 31 days; the line sits at 30.
        s.push_str(&bar_chart(
            "DSAR days to complete (deadline: one month)",
            &items,
            "requests",
            Some((30.0 / bins, "deadline ≈ 30 d")),
        ));
    }
    if let Some(months) = metrics
        .and_then(|m| m.pointer("/incidents/by_month"))
        .and_then(Value::as_object)
    {
        let minutes = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0) / 60.0;
        let mtta: Vec<(String, f64)> = months
            .iter()
            .map(|(m, v)| (m.clone(), minutes(v, "mtta_mean_seconds")))
            .collect();
        let mttr: Vec<(String, f64)> = months
            .iter()
            .map(|(m, v)| (m.clone(), minutes(v, "mttr_mean_seconds")))
            .collect();
        s.push_str(&bar_chart("MTTA by month", &mtta, "minutes", None));
        s.push_str(&bar_chart("MTTR by month", &mttr, "minutes", None));
    }
    let _ = writeln!(s, "</div>");
    trends(&mut s, history);

    for c in &r.checks {
        let _ = writeln!(
            s,
            "<h2>{} <span class=\"badge {}\">{}</span></h2><p>{}</p>",
            esc(&c.check.replace('_', " ")),
            status_class(c.status),
            status_word(c.status),
            esc(&c.summary)
        );
        details(&mut s, c.check, &c.details);
    }
    let _ = writeln!(
        s,
        "<p class=\"meta\">Subjects appear only as request ids and keyed hashes. Each certificate \
         verifies with <code>vouch certificate verify</code> or <code>ssh-keygen -Y verify -n vouch-deletion</code>.</p>"
    );
    s.push_str("</body></html>\n");
    s
}

/// Trend charts over the nights of the history: residual rows, SLA rates, open DSARs and
/// failed job runs per night.
fn trends(s: &mut String, h: &History) {
    if h.nights.is_empty() && h.unreadable.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "<h2>Trends over the last {} night(s)</h2><div class=\"charts\">",
        h.nights.len()
    );
    let labels: Vec<String> = h
        .nights
        .iter()
        .map(|n| n["as_of"].as_str().unwrap_or("").chars().take(10).collect())
        .collect();
    let series = |path: &str, factor: f64| -> Vec<Option<f64>> {
        h.nights
            .iter()
            .map(|n| {
                n["checks"]
                    .as_array()
                    .and_then(|cs| {
                        let (check, rest) = path.split_once('/')?;
                        let c = cs.iter().find(|c| c["check"] == check)?;
                        c["details"].pointer(&format!("/{rest}"))?.as_f64()
                    })
                    .map(|v| v * factor)
            })
            .collect()
    };
    s.push_str(&line_chart(
        "Residual rows",
        &labels,
        &[(
            "residual rows",
            series("deletion_verification/residual_rows", 1.0),
        )],
        "rows",
    ));
    s.push_str(&line_chart(
        "SLA rates",
        &labels,
        &[
            (
                "ack ≤ 5 min",
                series("metrics/incidents/ack_within_5m_rate", 100.0),
            ),
            ("DSAR on time", series("metrics/dsar/on_time_rate", 100.0)),
            (
                "review ≤ 2 bd",
                series("metrics/changes/reviewed_within_2bd_rate", 100.0),
            ),
        ],
        "%",
    ));
    s.push_str(&line_chart(
        "Open DSARs and failed job runs",
        &labels,
        &[
            ("open DSARs", series("metrics/dsar/open", 1.0)),
            ("failed job runs", series("metrics/jobs/failed", 1.0)),
        ],
        "count",
    ));
    let _ = writeln!(s, "</div>");
    if !h.unreadable.is_empty() {
        let _ = writeln!(
            s,
            "<p>history files that are not nightly reports (not drawn): {}</p>",
            esc(&h.unreadable.join(", "))
        );
    }
}

/// A line chart as inline SVG that scales with its container: one polyline per series
/// (a night without a value breaks the line), the nights on the horizontal axis.
pub fn line_chart(
    title: &str,
    labels: &[String],
    series: &[(&str, Vec<Option<f64>>)],
    unit: &str,
) -> String {
    const COLORS: [&str; 4] = ["#3b82f6", "#dc2626", "#16a34a", "#9333ea"];
    let (w, h, left, bottom, top) = (460.0, 260.0, 48.0, 56.0, 44.0);
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .fold(0.0f64, |a, b| a.max(*b));
    let scale_max = if max > 0.0 { nice(max) } else { 1.0 };
    let plot_w = w - left - 16.0;
    let plot_h = h - bottom - top;
    let n = labels.len().max(1);
    let x_of = |i: usize| {
        if n == 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y_of = |v: f64| top + plot_h - plot_h * v / scale_max;
    let mut s = String::new();
    let _ = write!(
        s,
        "<div class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\"><text x=\"{left}\" y=\"16\" font-size=\"13\" font-weight=\"600\">{}</text>",
        esc(title),
        esc(title)
    );
    for i in 0..=4 {
        let v = scale_max * f64::from(i) / 4.0;
        let y = y_of(v);
        let _ = write!(
            s,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e3e6ec\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            left + plot_w,
            left - 4.0,
            y + 3.0,
            short_number(v)
        );
    }
    for (k, (name, values)) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"24\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"33\" font-size=\"10\">{}</text>",
            left + 120.0 * k as f64,
            left + 120.0 * k as f64 + 14.0,
            esc(name)
        );
        let mut run: Vec<String> = Vec::new();
        let flush = |run: &mut Vec<String>, s: &mut String| {
            if run.len() > 1 {
                let _ = write!(
                    s,
                    "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
                    run.join(" ")
                );
            }
            run.clear();
        };
        for (i, v) in values.iter().enumerate() {
            match v {
                Some(v) => {
                    let (x, y) = (x_of(i), y_of(*v));
                    run.push(format!("{x:.1},{y:.1}"));
                    let _ = write!(
                        s,
                        "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{color}\"><title>{} {}: {} {}</title></circle>",
                        esc(labels.get(i).map_or("", String::as_str)),
                        esc(name),
                        short_number(*v),
                        esc(unit)
                    );
                }
                None => flush(&mut run, &mut s),
            }
        }
        flush(&mut run, &mut s);
    }
    for (i, label) in labels.iter().enumerate() {
        let (lx, ly) = (x_of(i), top + plot_h + 12.0);
        let _ = write!(
            s,
            "<text x=\"{lx:.1}\" y=\"{ly:.1}\" font-size=\"10\" text-anchor=\"end\" transform=\"rotate(-40 {lx:.1} {ly:.1})\">{}</text>",
            esc(label)
        );
    }
    close_chart(&mut s, top + plot_h / 2.0, unit);
    s
}

/// The parts of a check's details worth reading on the page.
fn details(s: &mut String, check: &str, d: &Value) {
    let list = |s: &mut String, title: &str, v: Option<&Value>| {
        let Some(items) = v.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
            return;
        };
        let shown: Vec<String> = items
            .iter()
            .take(50)
            .map(|i| {
                // A breach is an object whose `message` is its words.
                esc(i
                    .as_str()
                    .or_else(|| i.get("message").and_then(Value::as_str))
                    .map_or_else(|| i.to_string(), str::to_string)
                    .as_str())
            })
            .collect();
        let more = if items.len() > 50 {
            format!(" … and {} more", items.len() - 50)
        } else {
            String::new()
        };
        let _ = writeln!(s, "<p>{}: {}{more}</p>", esc(title), shown.join(", "));
    };
    match check {
        "deletion_verification" => {
            if let Some(reqs) = d.get("requests").and_then(Value::as_array)
                && !reqs.is_empty()
            {
                let _ = writeln!(
                    s,
                    "<table><tr><th>request</th><th>subject (keyed hash)</th><th>verdict</th><th>residual</th><th>held</th><th>certificate</th></tr>"
                );
                for q in reqs {
                    let f = |k: &str| {
                        esc(&q.get(k).map_or_else(String::new, |v| {
                            v.as_str().map_or_else(|| v.to_string(), str::to_string)
                        }))
                    };
                    let subject = f("subject");
                    let short: String = subject.chars().take(24).collect();
                    let _ = writeln!(
                        s,
                        "<tr><td>{}</td><td title=\"{subject}\"><code>{short}…</code></td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                        f("request_id"),
                        f("verdict"),
                        f("residual_rows"),
                        f("held_rows"),
                        f("certificate")
                    );
                }
                let _ = writeln!(s, "</table>");
            }
        }
        "audit_log_coverage" => {
            if let Some(m) = d.get("missing").and_then(Value::as_array) {
                for x in m {
                    let _ = writeln!(
                        s,
                        "<p>request {}: no delete entry for {}</p>",
                        esc(x.get("request_id").and_then(Value::as_str).unwrap_or("")),
                        esc(&x.get("tables").map(|t| t.to_string()).unwrap_or_default())
                    );
                }
            }
        }
        "export_integrity" => {
            list(s, "SHA-256 mismatch", d.get("mismatched"));
            list(s, "bundle not found", d.get("unreachable"));
        }
        "metrics" => {
            for m in ["incidents", "dsar", "changes", "jobs", "costs"] {
                let Some(r) = d.get(m) else { continue };
                let _ = writeln!(s, "<h3>{m}</h3>");
                if let Some(e) = r.get("error").and_then(Value::as_str) {
                    let _ = writeln!(s, "<p>error: {}</p>", esc(e));
                    continue;
                }
                let rates: Vec<String> = [
                    "ack_within_5m_rate",
                    "postmortem_within_48h_rate",
                    "on_time_rate",
                    "reviewed_within_2bd_rate",
                    "failure_rate",
                ]
                .iter()
                .filter_map(|k| {
                    r.get(*k).map(|v| match v.as_f64() {
                        Some(x) => format!("{k} {:.1}%", x * 100.0),
                        None => format!("{k} -"),
                    })
                })
                .collect();
                let _ = writeln!(s, "<p>{}</p>", esc(&rates.join(" · ")));
                for k in [
                    "unacknowledged",
                    "missing_postmortem",
                    "overdue",
                    "at_risk",
                    "late",
                    "pending",
                    "escalations",
                    "receipt_late",
                    "unrecovered",
                    "notify_required",
                    "cycle_unknown",
                    "over_budget_80",
                    "unlogged",
                    "breaches",
                ] {
                    list(s, &k.replace('_', " "), r.get(k));
                }
            }
        }
        "schema_changes" => {
            if let Some(v) = d.get("violations").and_then(Value::as_array) {
                let items: Vec<Value> = v
                    .iter()
                    .map(|x| {
                        let f = |k: &str| x.get(k).and_then(Value::as_str).unwrap_or("");
                        Value::String(format!(
                            "{} {}{}: {}",
                            f("change").replace('_', " "),
                            f("table"),
                            x.get("column")
                                .and_then(Value::as_str)
                                .map(|c| format!(".{c}"))
                                .unwrap_or_default(),
                            f("reason")
                        ))
                    })
                    .collect();
                list(s, "unreviewed schema changes", Some(&Value::Array(items)));
            }
        }
        "legal_holds" => {
            for k in ["undocumented_holds", "holds_without_set_at"] {
                list(s, &k.replace('_', " "), d.get(k));
            }
            if let Some(v) = d.get("purges_under_hold").and_then(Value::as_array) {
                let items: Vec<Value> = v
                    .iter()
                    .map(|x| {
                        let f = |k: &str| x.get(k).and_then(Value::as_str).unwrap_or("");
                        Value::String(format!(
                            "run {} ({}) on {} at {}",
                            f("run_id"),
                            f("job_name"),
                            f("dataset"),
                            f("started_at")
                        ))
                    })
                    .collect();
                list(s, "purges under hold", Some(&Value::Array(items)));
            }
        }
        "retention_check" => {
            if let Some(v) = d.get("violations").and_then(Value::as_array) {
                let items: Vec<Value> = v.iter().map(|x| Value::String(x.to_string())).collect();
                list(s, "violations", Some(&Value::Array(items)));
            }
        }
        _ => {}
    }
}

/// A vertical bar chart as inline SVG; `marker` draws a dashed line at a position on the
/// category axis (in bars from the left edge).
pub fn bar_chart(
    title: &str,
    items: &[(String, f64)],
    unit: &str,
    marker: Option<(f64, &str)>,
) -> String {
    let (w, h, left, bottom, top) = (460.0, 260.0, 48.0, 56.0, 28.0);
    let max = items.iter().map(|(_, v)| *v).fold(0.0f64, f64::max);
    let scale_max = if max > 0.0 { nice(max) } else { 1.0 };
    let plot_w = w - left - 10.0;
    let plot_h = h - bottom - top;
    let n = items.len().max(1) as f64;
    let slot = plot_w / n;
    let mut s = String::new();
    let _ = write!(
        s,
        "<div class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\">",
        esc(title)
    );
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"16\" font-size=\"13\" font-weight=\"600\">{}</text>",
        esc(title)
    );
    for i in 0..=4 {
        let v = scale_max * f64::from(i) / 4.0;
        let y = top + plot_h - plot_h * f64::from(i) / 4.0;
        let _ = write!(
            s,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e3e6ec\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            w - 10.0,
            left - 4.0,
            y + 3.0,
            short_number(v)
        );
    }
    for (i, (label, v)) in items.iter().enumerate() {
        let bh = if scale_max > 0.0 {
            plot_h * v / scale_max
        } else {
            0.0
        };
        let x = left + slot * i as f64 + slot * 0.15;
        let y = top + plot_h - bh;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#3b82f6\"><title>{}: {} {}</title></rect>",
            slot * 0.7,
            esc(label),
            short_number(*v),
            esc(unit)
        );
        let lx = left + slot * (i as f64 + 0.5);
        let ly = top + plot_h + 12.0;
        let _ = write!(
            s,
            "<text x=\"{lx:.1}\" y=\"{ly:.1}\" font-size=\"10\" text-anchor=\"end\" transform=\"rotate(-40 {lx:.1} {ly:.1})\">{}</text>",
            esc(label)
        );
    }
    if let Some((at, label)) = marker {
        let x = left + slot * at;
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{top}\" y2=\"{:.1}\" stroke=\"#dc2626\" stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#dc2626\">{}</text>",
            top + plot_h,
            x + 3.0,
            top + 10.0,
            esc(label)
        );
    }
    close_chart(&mut s, top + plot_h / 2.0, unit);
    s
}

/// The unit along the vertical axis (centred at `y`), and the end of the chart.
fn close_chart(s: &mut String, y: f64, unit: &str) {
    let _ = writeln!(
        s,
        "<text x=\"6\" y=\"{y:.1}\" font-size=\"10\" transform=\"rotate(-90 6 {y:.1})\" text-anchor=\"middle\">{}</text></svg></div>",
        esc(unit)
    );
}

/// The next "nice" axis maximum at or above `v` (1, 2 or 5 times a power of ten).
fn nice(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

fn short_number(v: f64) -> String {
    if v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_axes_are_round() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(nice(7.0), 10.0);
        assert_eq!(nice(120.0), 200.0);
        assert_eq!(nice(0.3), 0.5);
        let svg = bar_chart("t <1>", &[("a".into(), 3.0)], "rows", Some((0.5, "m")));
        assert!(
            svg.contains("<svg") && svg.contains("t &lt;1&gt;") && svg.contains("stroke-dasharray")
        );
    }
}
