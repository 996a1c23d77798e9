#!/usr/bin/env bash
# fit-rerank.sh refits kefu's offline reranker (rerank/weights.json) from the
# public corpora, run from the repository root:
#
#   bash scripts/fit-rerank.sh          # writes rerank/weights.json
#   CHECK=1 bash scripts/fit-rerank.sh  # fits, writes nothing, and fails if
#                                       # the committed file is not the fit
#                                       # (within float rounding)
#
# It builds kefu, writes the labelled sets with `go run ./eval/realsets`,
# ingests each into a data dir of its own, and fits on the dev half of every
# golden set only (the test halves are measured by scripts/bench-quality.sh
# and never fitted on): ePQA's answerable questions (whole catalogue and from
# the product's page), tau2 banking, tau2 retail, ecom-bench-zh and PRC
# consumer law, with ePQA's unanswerable dev questions and clinc150's
# out-of-scope training queries (asked of every shop) as questions without
# an answer. The fit also sets the answer bar. It skips, with a message,
# when the public corpora are absent.
set -euo pipefail

cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
if [[ ! -f "$DATA/README.md" ]]; then
	echo "fit-rerank.sh: no public corpora at $DATA; skipped"
	exit 0
fi
tmp=$(mktemp -d -t kefu-fit.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/kefu" ./cmd/kefu
go run ./eval/realsets --data "$DATA" --out "$tmp/rs" >/dev/null
for set in epqa tau2-banking tau2-retail ecom-bench-zh cn-consumer-law; do
	KEFU_RERANK_PROVIDER=off KEFU=$tmp/kefu DATA_DIR=$tmp/d/$set bash "$tmp/rs/$set/ingest.sh" >/dev/null 2>&1 ||
		{ echo "fit-rerank.sh: ingest of $set failed" >&2; exit 1; }
done

d=$tmp/d g=$tmp/rs
out=rerank/weights.json
answerable=(
	"$d/epqa=$g/epqa/golden/epqa-catalogue.dev.jsonl"
	"$d/epqa=$g/epqa/golden/epqa-page.dev.jsonl"
	"$d/tau2-banking=$g/tau2-banking/golden/tau2-banking.dev.jsonl"
	"$d/tau2-retail=$g/tau2-retail/golden/tau2-retail.dev.jsonl"
	"$d/ecom-bench-zh=$g/ecom-bench-zh/golden/ecom-bench-zh.dev.jsonl"
	"$d/cn-consumer-law=$g/cn-consumer-law/golden/cn-consumer-law.dev.jsonl"
)
args=(--out "$out")
[[ -n "${CHECK:-}" ]] && args=(--check "$out")
args+=(--clinc "$DATA/clinc150/data_full.json"
	--negatives "$d/epqa=$g/epqa/golden/epqa-unanswerable.dev.jsonl"
	--unanswerable "$d/epqa=$g/epqa/golden/epqa-unanswerable.dev.jsonl")
for a in "${answerable[@]}"; do
	args+=(--set "$a" --answerable "$a")
done
for set in epqa tau2-banking tau2-retail ecom-bench-zh cn-consumer-law; do
	args+=(--clinc-store "$d/$set")
done
for t in "$g"/*/golden/*.test.jsonl; do
	set=$(basename "$(dirname "$(dirname "$t")")")
	args+=(--test "$d/$set=$t")
done
# The data dirs' paths are temporary: the weights file names the sets only.
go run ./rerank/fit "${args[@]}"
