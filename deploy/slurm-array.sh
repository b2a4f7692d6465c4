#!/bin/bash
# A netpoll-sim campaign as a Slurm job array: one array task per shard, then a merge that
# runs when every task has ended.
#
#   deploy/slurm-array.sh submit        # submits the array (8 shards) and the merge after it
#
# Each array task runs `netpoll-sim explore` with no --shard: it takes its part from
# SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (and SLURM_ARRAY_TASK_MIN/STEP, so
# --array=1-8 works as well as 0-7). Every shard writes shard-I-of-N.json (and its first
# failure's shrunk trace beside it) into $RESULTS, which every node must see (a shared file
# system). A requeued task redoes exactly the same work and replaces its own files. A shard
# exits 0 once its result is written, failure or not: the merge's exit code is the verdict
# (0 no failure, 1 a failure found, 2 a missing, duplicate or foreign shard).
#
#SBATCH --job-name=netpoll-sim-shard
#SBATCH --array=0-7
#SBATCH --cpus-per-task=8
#SBATCH --time=04:00:00
#SBATCH --output=netpoll-sim-shard-%a.log
set -euo pipefail

NETPOLL_SIM=${NETPOLL_SIM:-netpoll-sim}       # the binary: cargo build --release -p netpoll-sim
RESULTS=${RESULTS:-$PWD/netpoll-sim-results/campaign-1}

if [ "${1:-}" = submit ]; then
    array=$(sbatch --parsable --export=ALL,RESULTS="$RESULTS" "$0")
    sbatch --dependency=afterany:"$array" --job-name=netpoll-sim-merge \
        --output=netpoll-sim-merge.log --wrap "$NETPOLL_SIM merge $RESULTS"
    echo "shards: job $array; merge: after it, into netpoll-sim-merge.log"
    exit 0
fi

# --jobs defaults to the cores this task may use (its cpus-per-task).
exec "$NETPOLL_SIM" explore \
    --scenario close-unblocks-read --protocol fixed --memory c11 \
    --strategy dfs --preemptions 3 --schedules 1000000000 --keep-going \
    --out "$RESULTS"
