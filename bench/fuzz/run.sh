#!/usr/bin/env bash
# Run one atheris fuzz target: bench/fuzz/run.sh loaders|policy [SECONDS] [extra libFuzzer flags]
# The working corpus and crash files go to .cache/fuzz/<target>/ (not committed); the seed
# corpus is every small fixture. A crash, hang (-timeout) or memory blow-up (-rss_limit_mb)
# stops the run and leaves the input as crash-*/timeout-*/oom-* in the artifact folder: copy
# it to fixtures/fuzz/<target>/ so that tests/test_hardening_fuzz_regressions.py replays it.
set -euo pipefail
target=${1:?usage: run.sh loaders|policy [seconds]}
seconds=${2:-1800}
shift $(( $# >= 2 ? 2 : 1 ))
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${PYTHON:-$root/.venv/bin/python}
work=$root/.cache/fuzz/$target
mkdir -p "$work/corpus" "$work/artifacts" "$work/seeds"
"$py" - "$work/seeds" <<'PY'
import os, shutil, sys
sys.path.insert(0, os.path.join(os.getcwd(), "bench", "fuzz"))
from _common import seed_files
for i, path in enumerate(seed_files()):
    shutil.copyfile(path, os.path.join(sys.argv[1], f"{i:04d}-{os.path.basename(path)}"))
PY
if [ -d "$root/fixtures/fuzz/$target" ]; then cp "$root/fixtures/fuzz/$target"/* "$work/seeds/" 2>/dev/null || true; fi
cd "$root"
export FUZZ_ARTIFACTS="$work/artifacts"
exec "$py" "$here/fuzz_$target.py" "$work/corpus" "$work/seeds" \
  -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 -max_len=65536 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1 "$@"
