#!/bin/sh
# Runs the sharded scan on Kubernetes in order: volume, plan, the Indexed Job, merge.
# Exit code: the merge's (0 clean, 1 residual, 2 incomplete or refused).
set -eu
here=$(dirname "$0")
k() { kubectl -n "${NAMESPACE:-default}" "$@"; }
# Waits until a Job is Complete or Failed; prints which.
finished() {
    while :; do
        state=$(k get job "$1" -o jsonpath='{.status.conditions[*].type}')
        case "$state" in *Complete*) echo Complete; return ;; *Failed*) echo Failed; return ;; esac
        sleep 5
    done
}
k delete job vouch-plan vouch-scan vouch-merge --ignore-not-found
k apply -f "$here/00-work-volume.yaml"
k apply -f "$here/10-plan.yaml"
[ "$(finished vouch-plan)" = Complete ] || { echo "run.sh: the plan Job failed" >&2; exit 2; }
k apply -f "$here/20-scan.yaml"
# Complete, or Failed after the per-index retries: the merge then names what is missing
# or unreadable.
finished vouch-scan >/dev/null
k apply -f "$here/30-merge.yaml"
finished vouch-merge >/dev/null
k logs job/vouch-merge || true
code=$(k get pod -l job-name=vouch-merge \
    -o jsonpath='{.items[0].status.containerStatuses[0].state.terminated.exitCode}')
exit "${code:-2}"
