#!/usr/bin/env bash
# Mutation testing of reparam's core modules with mutmut 3 (issue #10). Not run by CI.
#
#   tools/mutation/run.sh [full|pending|report]
#
# full     (default) sync a scratch copy, generate the mutants, draw the sample and run all of it;
# pending  the same, but run only the sampled mutants without a result (new, or in a function
#          changed since the last run) and the survivors not recorded as equivalent;
# report   only print the table of the last run (also written to $WORK/report.md).
#
# Environment: PER_MODULE (mutants sampled per module, default 50), SEED (default 10),
# JOBS (parallel mutants, default 2), WORK (scratch copy, default /tmp/reparam-mutation),
# FRESH_STATS=1 to re-run mutmut's test-to-function mapping from scratch (after editing tests).
# See tools/mutation/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=${WORK:-/tmp/reparam-mutation}
PER_MODULE=${PER_MODULE:-50}
SEED=${SEED:-10}
JOBS=${JOBS:-2}
MODE=${1:-full}
PYTHON=${PYTHON:-python}

case $MODE in full | pending | report) ;; *) echo "unknown mode $MODE" >&2; exit 2 ;; esac
mkdir -p "$WORK"
if [ "$MODE" != report ]; then
    # The working tree, minus what is not needed; mutants/ (mutmut's cache) is kept.
    rsync -a --delete --exclude .venv --exclude _build --exclude .git --exclude mutants \
        --exclude .hypothesis "$ROOT/" "$WORK/"
    cp "$HERE/setup.cfg" "$WORK/setup.cfg"
fi
cd "$WORK"
# One thread per mutant: the mutants run in parallel, and a shared machine has few cores.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

if [ "$MODE" != report ]; then
    [ "${FRESH_STATS:-0}" = 1 ] && rm -f mutants/mutmut-stats.json
    "$PYTHON" "$HERE/driver.py" generate
    "$PYTHON" "$HERE/driver.py" sample --per-module "$PER_MODULE" --seed "$SEED"
    if [ "$MODE" = full ]; then
        mapfile -t names < mutants/sample.txt
    else
        mapfile -t names < <("$PYTHON" "$HERE/driver.py" pending)
    fi
    echo "running ${#names[@]} mutants"
    if [ "${#names[@]}" -gt 0 ]; then
        nice -n 19 mutmut run --max-children "$JOBS" "${names[@]}" || true
    fi
fi
"$PYTHON" "$HERE/driver.py" report --out "$WORK/report.md"
