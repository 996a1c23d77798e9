#!/usr/bin/env bash
# bench-quality.sh measures kefu's answer quality on public shops nobody on
# the team wrote (ePQA, tau2 banking and retail, ecom-bench-zh, PRC consumer
# law), next to plain BM25 over the same chunks, and prints one table. Run it
# from the repository root:
#
#   bash scripts/bench-quality.sh
#
# It builds kefu, writes the sets with `go run ./eval/realsets`, ingests each
# set into a data dir of its own and runs `kefu eval --baseline --json` on the
# test split and the dev split of every golden set. Only the test rows are
# measurements; the dev rows are what tuning may look at. It skips, with a
# message, when the public corpora are absent.
#
# Knobs (environment): DATA (the public corpora, default ../shared/data),
# KEFU (a kefu binary to use instead of building one), OUT (folder for the
# sets, default a temporary one), RAW (folder to keep every eval JSON in,
# named GOLDEN.SPLIT.json), SPLITS (default "test dev").
set -euo pipefail

cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
SPLITS=${SPLITS:-test dev}

if [[ ! -f "$DATA/README.md" ]]; then
	echo "bench-quality.sh: no public corpora at $DATA; skipped"
	exit 0
fi
for tool in go jq; do
	command -v "$tool" >/dev/null || { echo "bench-quality.sh: $tool is required" >&2; exit 2; }
done

tmp=$(mktemp -d -t kefu-quality.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [[ -z "${KEFU:-}" ]]; then
	go build -o "$tmp/kefu" ./cmd/kefu
	KEFU=$tmp/kefu
fi
KEFU=$(cd "$(dirname "$KEFU")" && pwd)/$(basename "$KEFU")
OUT=${OUT:-$tmp/realsets}
KEEP_RAW=${RAW:-}
RAW=${RAW:-$tmp/raw}
mkdir -p "$OUT" "$RAW"
OUT=$(cd "$OUT" && pwd)
RAW=$(cd "$RAW" && pwd)

go run ./eval/realsets --data "$DATA" --out "$OUT" >/dev/null
echo "kefu $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)'), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)" >&2

# One data dir per set.
for set in $(grep -v '^#' "$OUT/sets.tsv" | cut -f1 | uniq); do
	start=$(date +%s)
	KEFU=$KEFU DATA_DIR="$tmp/data-$set" bash "$OUT/$set/ingest.sh" > "$RAW/$set.ingest.txt" 2>&1 ||
		{ echo "bench-quality.sh: ingest of $set failed:" >&2; tail -20 "$RAW/$set.ingest.txt" >&2; exit 1; }
	echo "ingested $set in $(($(date +%s) - start))s" >&2
done

printf '%-16s %-18s %-5s %5s | %-6s %-6s %-6s %-6s %-6s %-6s | %-6s %-6s %-6s %-6s %-6s\n' \
	set golden split cases k.h@1 k.h@5 k.h@10 k.mrr k.rec k.ans b.h@1 b.h@5 b.h@10 b.mrr b.rec
while IFS=$'\t' read -r set golden split cases path; do
	[[ $set == \#* ]] && continue
	[[ " $SPLITS " == *" $split "* ]] || continue
	json="$RAW/$golden.$split.json"
	start=$(date +%s)
	"$KEFU" eval --data-dir "$tmp/data-$set" --golden "$OUT/$path" --baseline --json > "$json"
	echo "eval $golden $split in $(($(date +%s) - start))s" >&2
	jq -r --arg set "$set" --arg golden "$golden" --arg split "$split" '
		def f: if . == null then "-" else (. * 1000 | round / 1000 | tostring) end;
		def r(n): if n > 0 then . | f else "-" end;
		[$set, $golden, $split, (.cases | tostring),
		 (.hit_at_1 | r($json.retrieval_cases)), (.hit_at_5 | r($json.retrieval_cases)), (.hit_at_10 | r($json.retrieval_cases)),
		 (.mrr_at_10 | r($json.retrieval_cases)), (.recall_at_10 | r($json.recall_cases)), (.answer_rate | f),
		 (.baseline.hit_at_1 | r($json.retrieval_cases)), (.baseline.hit_at_5 | r($json.retrieval_cases)), (.baseline.hit_at_10 | r($json.retrieval_cases)),
		 (.baseline.mrr_at_10 | r($json.retrieval_cases)), (.baseline.recall_at_10 | r($json.recall_cases))]
		| @tsv' --argjson json "$(jq '{retrieval_cases, recall_cases}' "$json")" "$json" |
		awk -F'\t' '{ printf "%-16s %-18s %-5s %5s | %-6s %-6s %-6s %-6s %-6s %-6s | %-6s %-6s %-6s %-6s %-6s\n", $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15 }'
done < "$OUT/sets.tsv"
kept="Raw JSON: $RAW"
[[ -z "${KEEP_RAW:-}" ]] && kept="Set RAW=DIR to keep the raw JSON."
echo "k.* is kefu, b.* plain BM25 over the same chunks; h@k hit rate, mrr mrr@10, rec recall@10 of the evidence documents, ans answer_rate; '-' when the set has no such labels. $kept" >&2
