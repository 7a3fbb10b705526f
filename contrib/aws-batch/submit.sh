#!/bin/sh
# Submits the sharded scan to AWS Batch: plan, then an array job of $SHARDS children
# (AWS_BATCH_JOB_ARRAY_INDEX from 0), then the merge once every child succeeded.
# Register the definitions first:
#   for d in vouch-plan vouch-scan vouch-merge; do
#     aws batch register-job-definition --cli-input-json "file://$d.json"; done
# A child exits 1 when its shard found residual rows: its shell counts that as done (only
# the merge decides); exit 2 is retried (retryStrategy). The merge exits 0 clean,
# 1 residual, 2 incomplete or refused; $VOUCH_WORK/report.json holds the report.
set -eu
queue=${QUEUE:?set QUEUE to the job queue}
shards=${SHARDS:-8}   # an array job has 2 to 10,000 children
submit() { aws batch submit-job --job-queue "$queue" --query jobId --output text "$@"; }
plan=$(submit --job-name vouch-plan --job-definition vouch-plan)
scan=$(submit --job-name vouch-scan --job-definition vouch-scan \
    --array-properties "size=$shards" --depends-on "jobId=$plan" \
    --container-overrides "environment=[{name=SHARDS,value=$shards}]")
merge=$(submit --job-name vouch-merge --job-definition vouch-merge \
    --depends-on "jobId=$scan" \
    --container-overrides "environment=[{name=SHARDS,value=$shards}]")
echo "plan $plan, scan $scan ($shards shards), merge $merge"
