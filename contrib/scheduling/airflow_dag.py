"""vouch nightly as an Airflow DAG: copy into the dags/ folder of a deployment whose
workers have `vouch` on the PATH (the repository's Dockerfile builds an image with it).

VOUCH_CONFIG names the config; its subject_key_file and signing_key are files on the
worker readable by the worker's user only (chmod 600; or 440 with a group of its own).
Exit codes: 0 succeeds; any other fails the task: 1 (a violation: residual rows, an SLA
breach, a missing bundle) and 2 (vouch could not decide: an unreadable object, S3 down).
Airflow retries a failed task; nightly reruns are safe (same outputs), so a retry of a
violation only confirms it, and a retry of an error may get past a passing outage.
"""
import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator

# The time Airflow runs for, not the wall clock (the end of the run's interval, RFC 3339):
# a rerun of a past night checks that night again, into that night's directory.
NIGHTLY = (
    'vouch nightly --log-format json --as-of "{{ data_interval_end | ts }}" '
    '--out "$VOUCH_REPORTS/{{ data_interval_end | ds }}"'
)

ENV = {
    "VOUCH_CONFIG": "/etc/vouch/vouch.toml",
    "VOUCH_REPORTS": "/var/lib/vouch/reports",
}

with DAG(
    dag_id="vouch_nightly",
    schedule="30 2 * * *",
    start_date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["compliance"],
) as dag:
    BashOperator(
        task_id="nightly",
        bash_command=NIGHTLY,
        env=ENV,
        append_env=True,
        retries=2,
        retry_delay=datetime.timedelta(minutes=5),
        execution_timeout=datetime.timedelta(hours=2),
    )
