#!/usr/bin/env bash
# Opening a large store, measured with whole processes. Reproduces
# docs/BENCHMARKS.md, "Opening a store of a real shop's size":
#
#   one `kefu ask` on a synthetic store of N chunks (eval/synthstore), built
#   from this tree and from REF (the reference, default the commit before the
#   index segment), run alternately RUNS times each on two copies of the same
#   store; it prints every run's wall and CPU seconds and peak memory
#   (/usr/bin/time), then the medians and the ratio of the medians.
#
#   scripts/bench-open.sh                   # 100k chunks, about 2 minutes
#   N=1000000 RUNS=3 scripts/bench-open.sh  # 1M chunks, about 7 GB of disk
#
# The stores are made in WORK (default a temporary directory, removed on
# exit); an existing WORK/shop-N is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-100000}
RUNS=${RUNS:-5}
REF=${REF:-32e9e6d}
Q=${Q:-how many days do I have to return opened earbuds}
keep=${WORK:+1}
WORK=${WORK:-$(mktemp -d)}
[[ -n $keep ]] || trap 'rm -rf "$WORK"' EXIT
command -v /usr/bin/time >/dev/null || { echo "bench-open.sh needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

go build -o "$WORK/kefu-new" ./cmd/kefu
go build -o "$WORK/synthstore" ./eval/synthstore
rm -rf "$WORK/ref-src"
git worktree add -f --detach "$WORK/ref-src" "$REF" >/dev/null 2>&1
(cd "$WORK/ref-src" && go build -o "$WORK/kefu-ref" ./cmd/kefu)
git worktree remove --force "$WORK/ref-src"

shop="$WORK/shop-$N"
[[ -d $shop ]] || "$WORK/synthstore" -n "$N" -out "$shop"
rm -rf "$shop-ref" && cp -r "$shop" "$shop-ref"
"$WORK/kefu-new" ask --data-dir "$shop" "$Q" >/dev/null 2>&1  # warm-up, each side
"$WORK/kefu-ref" ask --data-dir "$shop-ref" "$Q" >/dev/null 2>&1

for side in new ref; do : >"$WORK/$side.times"; done
for run in $(seq "$RUNS"); do
  for side in new ref; do
    dir=$shop; [[ $side == ref ]] && dir=$shop-ref
    /usr/bin/time -f "%e %U %S %M" -a -o "$WORK/$side.times" "$WORK/kefu-$side" ask --data-dir "$dir" "$Q" >/dev/null
  done
done
python3 - "$WORK" "$N" <<'PY'
import statistics, sys
work, n = sys.argv[1], sys.argv[2]
med = {}
for side in ("new", "ref"):
    rows = [list(map(float, l.split())) for l in open(f"{work}/{side}.times") if l.strip() and l[0].isdigit()]
    for r in rows:
        print(f"{side}: wall {r[0]:.3f} s, cpu {r[1]+r[2]:.3f} s, peak {r[3]/1024:.0f} MiB")
    med[side] = [statistics.median(r[0] for r in rows), statistics.median(r[1] + r[2] for r in rows),
                 statistics.median(r[3] / 1024 for r in rows)]
for side in ("new", "ref"):
    w, c, m = med[side]
    print(f"median {side} ({n} chunks): wall {w:.3f} s, cpu {c:.3f} s, peak {m:.0f} MiB")
print("ratio new/ref: wall %.4f, cpu %.4f, peak %.3f" % tuple(a / b for a, b in zip(med["new"], med["ref"])))
PY
