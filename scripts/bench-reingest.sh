#!/usr/bin/env bash
# Re-ingest of an unchanged corpus, measured with whole processes. Reproduces
# docs/BENCHMARKS.md, "Re-ingest of an unchanged corpus":
#
#   for each corpus, RUNS times: `kefu ingest` into an empty data dir (the
#   first run), then the same `kefu ingest` again (nothing changed), each
#   timed with /usr/bin/time; it prints every run and the medians and their
#   ratio, for this tree's build and for REF's (default: the commit before
#   the index segment), alternately.
#
#   scripts/bench-reingest.sh        # the public corpora beside the repository
#   DATA=path/to/data RUNS=5 scripts/bench-reingest.sh
#
# The corpora are tau2-retail and ecom-bench-zh (skipped when absent) and
# the demo shop.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
REF=${REF:-32e9e6d}
DATA=${DATA:-../shared/data}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
command -v /usr/bin/time >/dev/null || { echo "bench-reingest.sh needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

go build -o "$WORK/kefu-new" ./cmd/kefu
git worktree add -f --detach "$WORK/ref-src" "$REF" >/dev/null 2>&1
(cd "$WORK/ref-src" && go build -o "$WORK/kefu-ref" ./cmd/kefu)
git worktree remove --force "$WORK/ref-src"

corpora=("demo-shop|examples/demo-shop")
[[ -d $DATA/tau2-retail ]] && corpora+=("tau2-retail|$DATA/tau2-retail/policy.md $DATA/tau2-retail/db.json")
[[ -d $DATA/ecom-bench-zh ]] && corpora+=("ecom-bench-zh|--levels platform,shop,customer_id $DATA/ecom-bench-zh/agent_policy_wiki.md $DATA/ecom-bench-zh/products.json $DATA/ecom-bench-zh/discount.json $DATA/ecom-bench-zh/orders.json $DATA/ecom-bench-zh/logistics.json $DATA/ecom-bench-zh/service.json")

for c in "${corpora[@]}"; do
  name=${c%%|*}
  read -r -a args <<<"${c#*|}"
  for side in new ref; do : >"$WORK/$name.$side.first"; : >"$WORK/$name.$side.again"; done
  for run in $(seq "$RUNS"); do
    for side in new ref; do
      d="$WORK/data-$side"
      rm -rf "$d"
      /usr/bin/time -f "%e %U %S %M" -a -o "$WORK/$name.$side.first" "$WORK/kefu-$side" ingest --data-dir "$d" "${args[@]}" >/dev/null 2>&1
      /usr/bin/time -f "%e %U %S %M" -a -o "$WORK/$name.$side.again" "$WORK/kefu-$side" ingest --data-dir "$d" "${args[@]}" >/dev/null 2>&1
    done
  done
done
python3 - "$WORK" "${corpora[@]%%|*}" <<'PY'
import statistics, sys
work, names = sys.argv[1], sys.argv[2:]
def med(path, col):
    rows = [list(map(float, l.split())) for l in open(path) if l.strip() and l[0].isdigit()]
    if col == "cpu":
        return statistics.median(r[1] + r[2] for r in rows)
    return statistics.median(r[0] for r in rows)
for name in names:
    for side in ("new", "ref"):
        f, a = f"{work}/{name}.{side}.first", f"{work}/{name}.{side}.again"
        fw, aw, fc, ac = med(f, "wall"), med(a, "wall"), med(f, "cpu"), med(a, "cpu")
        print(f"{name} {side}: first run wall {fw:.3f} s (cpu {fc:.3f} s), unchanged re-run wall {aw:.3f} s (cpu {ac:.3f} s): "
              f"{fw/aw:.1f}x faster by wall, {fc/ac:.1f}x by cpu")
PY
