#!/usr/bin/env bash
# Replicas on PostgreSQL, measured with whole processes. Reproduces
# docs/BENCHMARKS.md, "Replicas on PostgreSQL":
#
#   1. the cost of the store: one kefu serve --demo on the embedded store and
#      one on PostgreSQL, loaded alternately with the same kefu bench (JSON
#      chat turns, each client holding one conversation, CONC clients, TURNS
#      turns per run), RUNS times each; it prints every run's latency
#      percentiles and the medians.
#   2. the failover: two replicas on one PostgreSQL, kefu bench --sse
#      --conversations with STREAMS streams spread over both for DURATION,
#      replica b killed with SIGKILL halfway; failed turns are retried on the
#      other replica with the same key, and every conversation is read back:
#      lost and duplicated turns must both be 0.
#
#   scripts/bench-replicas.sh                      # about 4 minutes
#   RUNS=5 STREAMS=200 DURATION=60s scripts/bench-replicas.sh
#
# It starts its own PostgreSQL with scripts/pg-start.sh (or uses the one
# KEFU_TEST_POSTGRES_DSN names). Everything listens on 127.0.0.1; every
# process started here is stopped on exit.
set -euo pipefail

RUNS=${RUNS:-3}
CONC=${CONC:-10}
TURNS=${TURNS:-1000}
STREAMS=${STREAMS:-200}
DURATION=${DURATION:-60s}
PORT_A=${PORT_A:-18581}
PORT_B=${PORT_B:-18582}

die() { echo "bench-replicas: $*" >&2; exit 1; }
for tool in go jq psql sort awk; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
[[ $RUNS =~ ^[0-9]+$ ]] && ((RUNS >= 1 && RUNS <= 20)) || die "RUNS must be 1..20"

cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
cleanup() {
	local p
	for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

admin=${KEFU_TEST_POSTGRES_DSN:-$(bash scripts/pg-start.sh)}
go build -o "$tmp/kefu" ./cmd/kefu

db="kefu_bench_$$"
psql -q "$admin" -c "CREATE DATABASE $db" >/dev/null
trap 'psql -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; cleanup' EXIT
dsn=$(printf %s "$admin" | sed -E "s#/[^/?]+(\?|$)#/$db\1#")

widget=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
hash=$(printf %s "$widget" | sha256sum | cut -d' ' -f1)
export KEFU_TOKEN_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export KEFU_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)
export KEFU_API_KEYS="web:widget:sha256:$hash"
# The load is one shopper's from one address: raise the limits out of its
# way but keep them on, so that the shared ones (on PostgreSQL) are paid
# for as in production.
export KEFU_LIMIT_SHOPPER_RATE=100000 KEFU_LIMIT_SHOPPER_BURST=100000 KEFU_LIMIT_STREAMS_PER_SHOPPER=1000 \
	KEFU_LIMIT_KEY_RATE=100000 KEFU_LIMIT_KEY_BURST=100000 \
	KEFU_LIMIT_ADDRESS_RATE=100000 KEFU_LIMIT_ADDRESS_BURST=100000 KEFU_LIMIT_STREAMS_PER_ADDRESS=1000 KEFU_LOG_LEVEL=warn
token=$("$tmp/kefu" token --customer C9001 --ttl 2h)

# serve NAME PORT [ENV...]: start kefu serve --demo in the background.
serve() {
	local name=$1 port=$2
	shift 2
	mkdir -p "$tmp/$name"
	env "$@" KEFU_ADDR="127.0.0.1:$port" "$tmp/kefu" serve --demo --data-dir "$tmp/$name/data" >"$tmp/$name/log" 2>&1 &
	echo $! >"$tmp/$name/pid"
	for _ in $(seq 1 600); do
		curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	cat "$tmp/$name/log" >&2
	die "$name did not become ready"
}
stop() { kill "$(cat "$tmp/$1/pid")" 2>/dev/null || true; wait "$(cat "$tmp/$1/pid")" 2>/dev/null || true; }

pg=(KEFU_STORE_PROVIDER=postgres "KEFU_POSTGRES_DSN=$dsn")

echo "== the cost of the store: $RUNS alternating runs, $CONC clients, $TURNS turns each"
printf 'store\trun\tp50_ms\tp95_ms\tp99_ms\tthroughput\n' >"$tmp/store.tsv"
for run in $(seq 1 "$RUNS"); do
	for store in embedded postgres; do
		if [[ $store == postgres ]]; then serve one 18583 "${pg[@]}"; else serve one 18583; fi
		"$tmp/kefu" bench --url http://127.0.0.1:18583 --conversations --concurrency "$CONC" --requests "$TURNS" \
			--duration 5m --api-key "$widget" --token "$token" --json >"$tmp/$store-$run.json" || true
		stop one
		rm -rf "$tmp/one"
		jq -r --arg s "$store" --arg r "$run" '[$s, $r, .latency_ms.p50, .latency_ms.p95, .latency_ms.p99, .throughput_rps] | @tsv' \
			"$tmp/$store-$run.json" | tee -a "$tmp/store.tsv"
	done
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for store in embedded postgres; do
	for col in 3 4 5 6; do
		printf '%s ' "$(awk -F'\t' -v s="$store" -v c="$col" '$1==s {print $c}' "$tmp/store.tsv" | median)"
	done | awk -v s="$store" '{printf "median %-9s p50 %s ms  p95 %s ms  p99 %s ms  %s turns/s\n", s, $1, $2, $3, $4}'
done

echo "== failover: $STREAMS streams over two replicas for $DURATION, replica b killed halfway"
psql -q "$dsn" -c "TRUNCATE conversations CASCADE" >/dev/null
serve a "$PORT_A" "${pg[@]}"
serve b "$PORT_B" "${pg[@]}"
secs=${DURATION%s}
(sleep $((secs / 2)) && kill -9 "$(cat "$tmp/b/pid")" && echo "killed replica b at $((secs / 2)) s") &
killer=$!
"$tmp/kefu" bench --url "http://127.0.0.1:$PORT_A" --url "http://127.0.0.1:$PORT_B" --sse --conversations --retries 3 \
	--concurrency "$STREAMS" --requests 100000 --duration "$DURATION" --ramp 2s --timeout 30s \
	--api-key "$widget" --token "$token" --json >"$tmp/failover.json" && verdict=ok || verdict=failed
wait "$killer"
jq '{requests, ok, failed, throughput_rps, latency_ms, streams: .streams | {complete, dropped, reordered, mismatched, failed}, conversations}' "$tmp/failover.json"
echo "failover check: $verdict"
[[ $verdict == ok ]]
