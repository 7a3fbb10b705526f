//! `vouch demo`: a small deterministic world to run `nightly` on. The sample lake of
//! `fixtures` (five tables; subjects 5002 and 5007 were not fully purged; support_tickets
//! is under legal hold), the five runbook tables with the cases a real week has (a late
//! DSAR, an unacknowledged incident, a late change review, a delete request whose audit
//! log misses a table), an access bundle made with `vouch export` for a throwaway age key,
//! a day of logs as the evidence source, a throwaway signing key and a `vouch.toml`.

pub mod sample;

use std::path::{Path, PathBuf};

/// What [`write`] made.
pub struct Demo {
    pub config: PathBuf,
    pub out: PathBuf,
    pub public_key: PathBuf,
    /// The demo's fixed "now", Unix seconds: 2026-11-27T06:00:00Z.
    pub as_of: i64,
}

/// "Now" for the demo, so that its report is the same on every machine.
pub const AS_OF: i64 = 1_795_759_200;

/// A file marking a directory as the demo's, so a rerun may overwrite it.
const MARKER: &str = ".vouch-demo";

fn io(p: &Path, e: std::io::Error) -> String {
    format!("{}: {}", p.display(), crate::io::store::io_message(&e))
}

fn put(p: &Path, text: &str) -> Result<(), String> {
    Ok(crate::io::fsio::write_atomic(p, text.as_bytes(), true)?)
}

/// Writes the demo under `dir` (created; a previous demo there is replaced, anything else
/// refused).
pub fn write(dir: &Path) -> Result<Demo, String> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map_err(|e| io(dir, e))?
            .next()
            .is_none();
        if !empty && !dir.join(MARKER).exists() {
            return Err(format!(
                "{}: exists and is not a vouch demo directory; give another --dir",
                dir.display()
            ));
        }
        for sub in [
            "lake", "tables", "keys", "logs", "exports", "report", "index", "history", "nights",
        ] {
            let p = dir.join(sub);
            if p.exists() {
                std::fs::remove_dir_all(&p).map_err(|e| io(&p, e))?;
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    put(
        &dir.join(MARKER),
        "written by vouch demo; `vouch demo` may overwrite this directory\n",
    )?;
    sample::sample_lake(dir).map_err(|e| io(dir, e))?;
    let tables = dir.join("tables");
    put(&tables.join("dsar_request.csv"), DSAR_REQUEST)?;
    put(&tables.join("dsar_audit_log.csv"), &audit_log())?;
    put(&tables.join("data_incident.csv"), DATA_INCIDENT)?;
    put(
        &tables.join("governance_change_log.csv"),
        GOVERNANCE_CHANGE_LOG,
    )?;
    put(&tables.join("analytics_job_run.csv"), ANALYTICS_JOB_RUN)?;
    put(&tables.join("cost_anomaly.csv"), COST_ANOMALY)?;
    put(
        &tables.join("holidays.txt"),
        "# Not business days for change reviews\n2026-11-26\n2026-12-25\n",
    )?;

    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).map_err(|e| io(&keys, e))?;
    let signing = keys.join("vouch-demo");
    crate::domain::keys::keygen(&signing, None, true).map_err(|e| e.to_string())?;

    // A day of logs before "now" for the evidence bundle.
    let logs = dir.join("logs");
    for (name, text) in [
        (
            "airflow/dsar_delete_2026-11-26.log",
            "2026-11-26T02:00:05Z task=purge_silver_private status=success tables=5\n",
        ),
        (
            "airflow/dq_checks_2026-11-26.log",
            "2026-11-26T03:10:00Z suite=silver_private passed=41 failed=0\n",
        ),
        (
            "access/2026-11-26.jsonl",
            "{\"at\":\"2026-11-26T09:12:44Z\",\"actor\":\"analyst-7\",\"dataset\":\"events\",\"action\":\"select\"}\n",
        ),
    ] {
        let p = logs.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        put(&p, text)?;
        let f = std::fs::File::options()
            .write(true)
            .open(&p)
            .map_err(|e| io(&p, e))?;
        let when =
            std::time::UNIX_EPOCH + std::time::Duration::from_secs((AS_OF - 6 * 3600) as u64);
        f.set_modified(when).map_err(|e| io(&p, e))?;
    }

    // The access request A-2001 was answered with a real bundle; its hash is recorded.
    let exports = dir.join("exports");
    std::fs::create_dir_all(&exports).map_err(|e| io(&exports, e))?;
    let identity = age::x25519::Identity::generate();
    {
        use age::secrecy::ExposeSecret;
        put(
            &keys.join("age-identity.txt"),
            &format!(
                "# public key: {}\n{}\n",
                identity.to_public(),
                identity.to_string().expose_secret()
            ),
        )?;
    }
    let sha = export_bundle(dir, &exports.join("A-2001.age"), identity.to_public())?;
    let requests = std::fs::read_to_string(tables.join("dsar_request.csv"))
        .map_err(|e| io(&tables, e))?
        .replace("EXPORT_SHA256", &sha);
    put(&tables.join("dsar_request.csv"), &requests)?;

    let config = dir.join("vouch.toml");
    put(&config, CONFIG)?;
    Ok(Demo {
        config,
        out: dir.join("report"),
        public_key: keys.join("vouch-demo.pub"),
        as_of: AS_OF,
    })
}

/// `vouch export` of subject 1042 for request A-2001; returns the bundle's SHA-256.
fn export_bundle(
    dir: &Path,
    out: &Path,
    recipient: age::x25519::Recipient,
) -> Result<String, String> {
    let cfg =
        crate::domain::config::Config::load(&dir.join("vouch.toml")).map_err(|e| e.to_string())?;
    let lake = dir.join("lake");
    let store = crate::io::local::LocalStore::open(&lake).map_err(|e| e.to_string())?;
    let tables = crate::domain::lake::discover_tables(&store, &cfg.lake)
        .map_err(|e| e.to_string())?
        .tables;
    let subjects = crate::domain::subjects::SubjectList::of(["1042"]).map_err(|e| e.to_string())?;
    let req = crate::domain::export::ExportRequest {
        scan: crate::domain::scan::ScanRequest {
            store: &store,
            lake: lake.display().to_string(),
            tables,
            subjects: &subjects,
            holds: Default::default(),
            labeler: crate::domain::subjects::SubjectLabeler::plain(),
            options: Default::default(),
            prior_errors: vec![],
            collect_rows: true,
            include_versions: false,
            index: None,
            recall: None,
            prescan: None,
        },
        request_id: Some("A-2001".into()),
        format: crate::domain::export::DataFormat::Json,
        encryption: crate::domain::export::Encryption::Recipients(vec![Box::new(recipient)]),
        generated_at: "2026-11-20T10:00:00Z".into(),
        out: out.to_path_buf(),
        force: true,
    };
    let s = crate::domain::export::export(req, &crate::domain::scan::NoProgress)
        .map_err(|e| e.to_string())?;
    Ok(s.sha256)
}

const CONFIG: &str = r#"# vouch demo configuration (paths are relative to this file).
# Copy it as the start of your own: point [lake] and [tables] at your data.

[lake]
location = "lake"                 # a directory or s3://bucket/prefix
id_columns = ["user_id"]          # identifier columns of tables not listed below

[[lake.tables]]
name = "payments"
id_columns = ["user_id", "buyer_id"]

[[lake.tables]]
name = "devices"
id_columns = ["owner_uuid"]

[tables]                          # the runbook's tables: Parquet or CSV, local or s3://
data_retention_policy = "tables/data_retention_policy.csv"
dsar_request = "tables/dsar_request.csv"
dsar_audit_log = "tables/dsar_audit_log.csv"
data_incident = "tables/data_incident.csv"
governance_change_log = "tables/governance_change_log.csv"
analytics_job_run = "tables/analytics_job_run.csv"
cost_anomaly = "tables/cost_anomaly.csv"

[jobs.cycles]                     # refresh cycles (else the median gap between runs)
partner_feed = "24h"

[privacy]
# Subjects appear in reports and certificates only as HMAC-SHA256 keyed with this.
# A demo value: keep a real key out of the file (subject_key_file or VOUCH_SUBJECT_KEY).
subject_key = "vouch-demo-subject-key-not-for-production"

[nightly]
window_days = 30                  # verify delete requests completed in the last 30 days
signing_key = "keys/vouch-demo"   # OpenSSH Ed25519; signs certificates and evidence
exports = "exports"               # access bundles as <request_id>.age
holidays = "tables/holidays.txt"
index = "index"                   # subject index: kept up to date, used by deletion checks
history = "history"               # each night's report.json, for the trend charts

[targets]                         # SLA targets (rates in [0, 1])
ack_within_5m_rate = 0.9
postmortem_within_48h_rate = 0.9
on_time_rate = 0.95
reviewed_within_2bd_rate = 0.9

[evidence]
sources = ["logs"]                # collected for the day before --as-of
# upload = "s3://compliance-artifacts/data-quality"   # under S3 Object Lock
retention_years = 7
retention_mode = "compliance"

[retention]
# location = "s3://compliance-artifacts/data-quality" # check every version's lock
min_years = 7
"#;

/// Ten delete requests for the sample lake's deleted subjects (5002 and 5007 still have
/// rows; 5005's are under legal hold), a delete request still open past its deadline,
/// and access requests: one answered with a bundle, one late, one due within days.
const DSAR_REQUEST: &str = "\
request_id,subject_id,request_type,received_at,extended,completed_at,status,export_sha256
D-1000,5000,delete,2026-10-29T09:00:00Z,false,2026-11-02T10:00:00Z,complete,
D-1001,5001,delete,2026-10-30T09:00:00Z,false,2026-11-03T10:00:00Z,complete,
D-1002,5002,delete,2026-10-31T09:00:00Z,false,2026-11-05T10:00:00Z,complete,
D-1003,5003,delete,2026-11-02T09:00:00Z,false,2026-11-08T10:00:00Z,complete,
D-1004,5004,delete,2026-11-03T09:00:00Z,false,2026-11-10T10:00:00Z,complete,
D-1005,5005,delete,2026-11-05T09:00:00Z,false,2026-11-12T10:00:00Z,complete,
D-1006,5006,delete,2026-11-07T09:00:00Z,false,2026-11-15T10:00:00Z,complete,
D-1007,5007,delete,2026-11-09T09:00:00Z,false,2026-11-18T10:00:00Z,complete,
D-1008,5008,delete,2026-11-12T09:00:00Z,false,2026-11-20T10:00:00Z,complete,
D-1009,5009,delete,2026-11-14T09:00:00Z,false,2026-11-24T10:00:00Z,complete,
D-0990,4990,delete,2026-09-01T09:00:00Z,false,2026-09-20T10:00:00Z,complete,
D-1010,1777,delete,2026-10-12T09:00:00Z,false,,in_progress,
A-2001,1042,access,2026-11-10T08:00:00Z,false,2026-11-20T10:00:00Z,complete,EXPORT_SHA256
A-2002,1311,access,2026-08-31T08:00:00Z,false,2026-10-06T16:00:00Z,complete,
A-2003,1450,access,2026-10-30T12:00:00Z,false,,open,
A-2004,1502,access,2026-11-20T12:00:00Z,true,,open,
";

/// Delete entries for every table of every verified request, except D-1004's payments.
fn audit_log() -> String {
    let mut s = String::from("request_id,dataset,action,at,rows_affected\n");
    for n in 0..10 {
        for t in [
            "devices",
            "events",
            "payments",
            "profiles",
            "support_tickets",
        ] {
            if n == 4 && t == "payments" {
                continue;
            }
            s.push_str(&format!(
                "D-10{n:02},{t},delete,2026-11-{:02}T02:00:00Z,{}\n",
                2 + n,
                (n + t.len()) % 4
            ));
        }
    }
    s.push_str("A-2001,events,export,2026-11-20T10:00:00Z,31\n");
    s
}

/// Job runs: a failure a backfill recovers, one nothing recovered (export_partner_feed), and
/// a purge of support_tickets after its legal hold was set (the legal_holds violation).
const ANALYTICS_JOB_RUN: &str = "\
run_id,job_name,dataset,job_type,status,scheduled_at,started_at,ended_at
J-001,build_events,events,transform,success,2026-11-24T01:00:00Z,2026-11-24T01:00:05Z,2026-11-24T01:20:00Z
J-002,build_events,events,transform,failed,2026-11-25T01:00:00Z,2026-11-25T01:00:04Z,2026-11-25T01:07:00Z
J-003,build_events,events,backfill,success,2026-11-25T04:00:00Z,2026-11-25T04:00:02Z,2026-11-25T04:30:00Z
J-004,build_events,events,transform,success,2026-11-26T01:00:00Z,2026-11-26T01:00:03Z,2026-11-26T01:19:00Z
J-005,build_events,events,transform,success,2026-11-27T01:00:00Z,2026-11-27T01:00:02Z,2026-11-27T01:18:00Z
J-006,export_partner_feed,partner_feed,transform,failed,2026-11-26T23:00:00Z,2026-11-26T23:00:01Z,2026-11-26T23:02:00Z
J-007,purge_silver_private,support_tickets,purge,success,2026-11-26T02:00:00Z,2026-11-26T02:00:05Z,2026-11-26T02:05:00Z
J-008,purge_silver_private,events,purge,success,2026-11-26T02:00:00Z,2026-11-26T02:05:10Z,2026-11-26T02:09:00Z
";

/// Cost anomalies: one mitigated and logged, one past 80% of its budget whose mitigation
/// never reached the incident log.
const COST_ANOMALY: &str = "\
anomaly_id,detected_at,service,resource,cost_usd,expected_usd,budget_used_pct,mitigated_at,mitigation,incident_id
CA-01,2026-11-09T10:00:00Z,athena,wg-analysts,1240.50,300,0.64,2026-11-09T11:40:00Z,scan limit on wg-analysts,INC-306
CA-02,2026-11-20T14:00:00Z,s3,silver-private-logs,310,120,0.86,2026-11-21T09:00:00Z,lifecycle rule to Glacier,
";

const DATA_INCIDENT: &str = "\
incident_id,severity,start_at,acknowledged_at,end_at,impact,rca,follow_up_actions,postmortem_at
INC-301,sev2,2026-09-03T08:10:00Z,2026-09-03T08:12:00Z,2026-09-03T10:40:00Z,dashboard stale,late upstream load,add freshness alert,2026-09-04T15:00:00Z
INC-302,sev1,2026-09-19T22:05:00Z,2026-09-19T22:08:30Z,2026-09-20T01:20:00Z,orders delayed,schema change,contract test,2026-09-21T18:00:00Z
INC-303,sev3,2026-10-02T13:00:00Z,2026-10-02T13:04:00Z,2026-10-02T14:00:00Z,minor,flaky job,retry policy,2026-10-03T09:00:00Z
INC-304,sev2,2026-10-14T03:30:00Z,,2026-10-14T07:45:00Z,PII column exposed to analysts,grant drift,access review,2026-10-15T12:00:00Z
INC-305,sev1,2026-10-28T17:00:00Z,2026-10-28T17:03:00Z,2026-10-28T21:00:00Z,payments export failed,expired credential,rotation runbook,2026-11-02T10:00:00Z
INC-306,sev3,2026-11-09T11:20:00Z,2026-11-09T11:21:00Z,2026-11-09T11:50:00Z,minor,disk full,alert threshold,2026-11-10T09:30:00Z
INC-307,sev2,2026-11-25T09:00:00Z,2026-11-25T09:04:00Z,2026-11-25T12:00:00Z,late DSAR export,queue backlog,,
INC-308,sev1,2026-11-27T02:10:00Z,2026-11-27T02:13:00Z,,ingest stalled,,,
";

const GOVERNANCE_CHANGE_LOG: &str = "\
change_id,submitted_by,impact,status,submitted_at,reviewed_at,verified_at
CHG-501,data-eng,low,verified,2026-10-05T10:00:00Z,2026-10-06T15:00:00Z,2026-10-07T09:00:00Z
CHG-502,analytics,medium,verified,2026-10-16T17:45:00Z,2026-10-20T11:00:00Z,2026-10-21T09:00:00Z
CHG-503,privacy,regulatory,verified,2026-10-30T09:00:00Z,2026-11-02T08:30:00Z,2026-11-03T09:00:00Z
CHG-504,data-eng,high,reviewed,2026-11-13T18:30:00Z,2026-11-17T18:30:00Z,
CHG-505,ml-platform,medium,submitted,2026-11-18T09:00:00Z,,
CHG-506,privacy,regulatory,submitted,2026-11-25T14:00:00Z,,
";

/// What `vouch demo` did: where it wrote, and the nightly report of the sample.
pub struct Outcome {
    pub demo: Demo,
    pub dir: PathBuf,
    pub report: crate::ops::nightly::NightlyReport,
}

/// Writes the sample lake and tables in `dir`, then runs nightly on them.
pub fn run(
    dir: &Path,
    env: &crate::ops::Env<'_>,
    log: &dyn Fn(&crate::ops::nightly::Check),
) -> Result<Outcome, crate::ops::OpError> {
    let demo = write(dir)?;
    check(demo, dir, env, log)
}

/// Runs nightly on a demo [`write`] wrote.
pub fn check(
    demo: Demo,
    dir: &Path,
    env: &crate::ops::Env<'_>,
    log: &dyn Fn(&crate::ops::nightly::Check),
) -> Result<Outcome, crate::ops::OpError> {
    let cfg = crate::domain::config::Config::load(&demo.config)?;
    // The two nights before, as a scheduler would have run them (each its own --out), so
    // that the report's trends have a history.
    for days_before in [2, 1] {
        let at = demo.as_of - days_before * 86_400;
        let day = crate::domain::report::rfc3339(at);
        crate::ops::nightly::run_checks(
            &cfg,
            &crate::ops::nightly::Options {
                out: dir.join("nights").join(&day[..10]),
                as_of: Some(crate::domain::time::Timestamp::from_secs(at)),
                scan_report: None,
            },
            env,
            &|_| {},
        )?;
    }
    // Before tonight a team added a column named like personal data (and filed no change).
    sample::contact_email_column(dir).map_err(|e| io(dir, e))?;
    let report = crate::ops::nightly::run_checks(
        &cfg,
        &crate::ops::nightly::Options {
            out: demo.out.clone(),
            as_of: Some(crate::domain::time::Timestamp::from_secs(demo.as_of)),
            scan_report: None,
        },
        env,
        log,
    )?;
    Ok(Outcome {
        demo,
        dir: dir.to_path_buf(),
        report,
    })
}

impl Outcome {
    /// What to look at and how to rerun it.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        crate::ops::text(|out| {
            writeln!(
                out,
                "report: {}",
                self.demo.out.join("report.html").display()
            )?;
            for c in &self.report.checks {
                writeln!(
                    out,
                    "  {:<22} {:<9} {}",
                    c.check,
                    c.status.as_str(),
                    c.summary
                )?;
            }
            writeln!(
                out,
                "certificates: {} (check one: vouch certificate verify CERT --public-key {})",
                self.demo.out.join("certificates").display(),
                self.demo.public_key.display()
            )?;
            writeln!(
                out,
                "run it yourself: vouch nightly --config {} --out DIR --as-of {}",
                self.demo.config.display(),
                crate::domain::report::rfc3339(self.demo.as_of)
            )
        })
    }

    /// The demo's findings are planted; it succeeded if nightly could decide every check.
    pub fn exit_code(&self) -> u8 {
        if self.report.status == crate::ops::nightly::Status::Error {
            2
        } else {
            0
        }
    }
}
