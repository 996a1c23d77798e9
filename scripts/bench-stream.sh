#!/usr/bin/env bash
# Streaming with a model: kefu serve --demo answering through kefu fake-llm at
# a fixed token rate, loaded with kefu bench (SSE and JSON) at 1, 100 and 500
# concurrent turns. Reproduces docs/BENCHMARKS.md, "Streaming with a model".
#
#   scripts/bench-stream.sh                 # 3 repetitions, about 14 minutes
#   RUNS=5 scripts/bench-stream.sh          # more repetitions
#   OUT=results scripts/bench-stream.sh     # keep every raw report in results/
#   TMPDIR=/dev/shm scripts/bench-stream.sh # data dirs on tmpfs (no disk sync)
#
# Settings (environment): RUNS (3), TPS (20 tokens/s), FAKE_PORT (18435),
# KEFU_PORT (18480). Every bench figure also records the CPU the hypervisor took
# from the machine meanwhile (*_steal_cores). Everything listens on and talks to 127.0.0.1 only; every
# load is bounded in requests and time; every process started here is stopped
# on exit.
#
# Each repetition runs two replies of the fake model:
#   policy  41 pieces, three sentences, two of them with numbers that are in the
#           retrieved returns policy (the fact gate holds those until they end)
#   plain   40 pieces, the same answer without digits (nothing is held)
# and, for each: the fake model alone (hey, streamed completions), kefu bench
# --sse at 1, 100 and 500 concurrent turns, kefu bench (JSON) at 1 and 100,
# all clients at once and again with --ramp 2s (the clients start evenly over
# two seconds, one turn's length, so that turns do not arrive in lockstep:
# the steady state of N streams), probes of the fake model's own token gaps
# during the ramped 500-stream load, and one traced stream.
# It prints the median over the repetitions of every figure.
set -euo pipefail

RUNS=${RUNS:-3}
TPS=${TPS:-20}
FAKE_PORT=${FAKE_PORT:-18435}
KEFU_PORT=${KEFU_PORT:-18480}
MESSAGE="How long do I have to return an item?"
REPLY_POLICY="You can return most items within 30 days of delivery. Opened items in good condition can still be returned with every accessory and the original box. Refunds to Alipay and WeChat Pay take 1-3 business days after we receive the item."
REPLY_PLAIN="You can return most items within a month of delivery. Opened items in good condition can still be returned with every accessory and the original box. Refunds to Alipay and WeChat Pay arrive within days after we receive the item."

die() { echo "bench-stream: $*" >&2; exit 1; }
for tool in go curl jq hey awk sort; do
	command -v "$tool" >/dev/null || die "$tool is not installed (hey: go install github.com/rakyll/hey@latest)"
done
((BASH_VERSINFO[0] >= 5)) || die "bash 5 or later is needed (EPOCHREALTIME)"
[[ $RUNS =~ ^[0-9]+$ ]] && ((RUNS >= 1 && RUNS <= 20)) || die "RUNS must be 1..20"
[[ $TPS =~ ^[0-9]+([.][0-9]+)?$ ]] || die "TPS must be a number"

cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
cleanup() {
	local p
	for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [[ -n ${OUT:-} ]]; then
		mkdir -p "$OUT" && cp -r "$tmp"/raw "$tmp"/metrics.tsv "$OUT"/ 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 500 streams in, 500 to the model, 500 bench connections.
if (($(ulimit -n) < 4096)); then
	hard=$(ulimit -Hn)
	[[ $hard == unlimited ]] && hard=65536
	ulimit -n "$((hard < 65536 ? hard : 65536))"
fi
(($(ulimit -n) >= 2048)) || die "open files limit $(ulimit -n) is too low for 500 streams"

for port in "$FAKE_PORT" "$KEFU_PORT"; do
	! curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" || die "port $port is in use"
done

if rev=$(git rev-parse --short HEAD 2>/dev/null); then
	git diff --quiet HEAD -- . 2>/dev/null || rev="$rev (modified tree)"
	echo "building kefu at $rev"
fi
go build -o "$tmp/kefu" ./cmd/kefu
K=$tmp/kefu
mkdir -p "$tmp/raw"
FAKE=http://127.0.0.1:$FAKE_PORT
KEFU=http://127.0.0.1:$KEFU_PORT
printf '{"model":"fake-model","stream":true,"messages":[{"role":"user","content":"%s"}]}' "$MESSAGE" >"$tmp/completion.json"
CHAT_BODY=$(jq -cn --arg m "$MESSAGE" '{message: $m, channel: "bench"}')

# record VARIANT RUN KEY VALUE
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$tmp/metrics.tsv"; }
# cputicks PID: user+system clock ticks of a process so far
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# opens: TCP connections this machine has opened so far (ActiveOpens)
opens() { awk '/^Tcp:/ && ++n == 2 {print $6}' /proc/net/snmp; }
# steal: jiffies the hypervisor took from this machine so far
steal() { awk '/^cpu /{print $9}' /proc/stat; }
# busy: busy and total jiffies of the whole machine so far
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)

# scrape FILE: kefu's overhead histogram buckets now ("mode le count" lines)
scrape() {
	curl -sf --max-time 5 "$KEFU/metrics" |
		sed -n 's/^kefu_chat_overhead_seconds_bucket{mode="\([a-z]*\)",le="\([^"]*\)"} \([0-9.e+]*\)$/\1 \2 \3/p' >"$1"
}
# overhead_pct BEFORE AFTER MODE P: the P-th percentile in ms of kefu's own
# overhead over the turns between two scrapes, interpolated in its bucket as
# Prometheus's histogram_quantile does
overhead_pct() {
	awk -v mode="$3" -v p="$4" 'FILENAME == ARGV[1] { if ($1 == mode) b[$2] = $3; next }
		$1 == mode { le[++n] = $2; c[n] = $3 - b[$2] }
		END {
			total = c[n]; if (total <= 0) { print "nan"; exit }
			rank = p / 100 * total; lo = 0; prev = 0
			for (i = 1; i <= n; i++) {
				if (c[i] >= rank) {
					if (le[i] == "+Inf") { print lo * 1000; exit }
					printf "%.3f\n", (lo + (le[i] - lo) * (rank - prev) / (c[i] - prev)) * 1000; exit
				}
				lo = le[i]; prev = c[i]
			}
		}' "$1" "$2"
}
# pct P: the nearest-rank P-th percentile of the numbers on stdin
pct() { sort -g | awk -v p="$1" '{a[NR]=$1} END{if (NR) {i=int(p/100*NR+0.999999); if (i<1) i=1; print a[i]} else print "nan"}'; }

start_fake() { # start_fake REPLY
	"$K" fake-llm --addr "127.0.0.1:$FAKE_PORT" --tokens-per-s "$TPS" --reply "$1" >"$tmp/fake.log" 2>&1 &
	fake_pid=$!
}
start_kefu() { # start_kefu DATADIR
	KEFU_LLM_PROVIDER=openai KEFU_LLM_BASE_URL=$FAKE/v1 KEFU_LLM_MODEL=fake-model \
		"$K" serve --demo --data-dir "$1" --addr "127.0.0.1:$KEFU_PORT" >"$tmp/serve.log" 2>&1 &
	kefu_pid=$!
}
wait_ready() { # wait_ready URL PID
	local i
	for i in $(seq 150); do
		curl -sf -o /dev/null --max-time 1 "$1" && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	cat "$tmp/serve.log" "$tmp/fake.log" >&2
	die "$1 did not come up"
}
stop() { # stop PID...
	local p
	for p in "$@"; do kill "$p" 2>/dev/null || true; done
	for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

# model_alone V R C N: the fake model's own latency (hey, streamed completions)
model_alone() {
	local v=$1 r=$2 c=$3 n=$4 csv=$tmp/raw/model-$1-$2-c$3.csv
	hey -n "$n" -c "$c" -t 30 -m POST -T application/json -D "$tmp/completion.json" -o csv \
		"$FAKE/v1/chat/completions" >"$csv" || die "hey against the fake model failed"
	local ok
	ok=$(awk -F, 'NR>1 && $7==200' "$csv" | wc -l)
	((ok == n)) || die "the fake model answered $ok of $n"
	record "$v" "$r" "model_c${c}_lat_p50" "$(awk -F, 'NR>1{print $1*1000}' "$csv" | pct 50)"
	record "$v" "$r" "model_c${c}_lat_p99" "$(awk -F, 'NR>1{print $1*1000}' "$csv" | pct 99)"
	record "$v" "$r" "model_c${c}_ttfb_p50" "$(awk -F, 'NR>1{print $5*1000}' "$csv" | pct 50)"
	record "$v" "$r" "model_c${c}_ttfb_p95" "$(awk -F, 'NR>1{print $5*1000}' "$csv" | pct 95)"
}

# bench V R MODE C N [RAMP]: one kefu bench run, with kefu's and the
# machine's CPU; with RAMP the clients start evenly over that time and the
# figures are named ramp_MODE_cC, else MODE_cC (all clients at once)
bench() {
	local v=$1 r=$2 mode=$3 c=$4 n=$5 ramp=${6:-0s} flag=()
	local p="${mode}_c${c}"
	[[ $ramp != 0s ]] && p="ramp_$p"
	local out=$tmp/raw/bench-$1-$2-$p.json
	[[ $mode == sse ]] && flag=(--sse)
	local k0 f0 b0 a0 t0 o0 s0 k1 f1 b1 a1 t1 o1 s1
	scrape "$tmp/hist0"
	o0=$(opens); k0=$(cputicks "$kefu_pid"); f0=$(cputicks "$fake_pid"); read -r b0 a0 < <(busy); s0=$(steal); t0=$EPOCHREALTIME
	"$K" bench --url "$KEFU" "${flag[@]}" --concurrency "$c" --requests "$n" --ramp "$ramp" --duration 120s --timeout 30s \
		--message "$MESSAGE" --json >"$out" || true
	t1=$EPOCHREALTIME; k1=$(cputicks "$kefu_pid"); f1=$(cputicks "$fake_pid"); read -r b1 a1 < <(busy); s1=$(steal); o1=$(opens)
	[[ -s $out ]] || die "kefu bench gave no report ($mode, concurrency $c)"
	scrape "$tmp/hist1"
	record "$v" "$r" "${p}_kefu_overhead_p50" "$(overhead_pct "$tmp/hist0" "$tmp/hist1" "$mode" 50)"
	record "$v" "$r" "${p}_kefu_overhead_p99" "$(overhead_pct "$tmp/hist0" "$tmp/hist1" "$mode" 99)"
	record "$v" "$r" "${p}_steal_cores" "$(awk -v a="$s0" -v b="$s1" -v h="$HZ" -v s="$t0" -v e="$t1" 'BEGIN{print (b-a)/h/(e-s)}')"
	record "$v" "$r" "${p}_kefu_ms_cpu_per_turn" "$(awk -v a="$k0" -v b="$k1" -v h="$HZ" -v n="$n" 'BEGIN{print (b-a)/h*1000/n}')"
	record "$v" "$r" "${p}_kefu_cores" "$(awk -v a="$k0" -v b="$k1" -v h="$HZ" -v s="$t0" -v e="$t1" 'BEGIN{print (b-a)/h/(e-s)}')"
	record "$v" "$r" "${p}_fake_cores" "$(awk -v a="$f0" -v b="$f1" -v h="$HZ" -v s="$t0" -v e="$t1" 'BEGIN{print (b-a)/h/(e-s)}')"
	# connections opened per turn, beyond the load's own c: kefu's to the model
	record "$v" "$r" "${p}_model_conns_per_turn" "$(awk -v a="$o0" -v b="$o1" -v c="$c" -v n="$n" 'BEGIN{print (b-a-c)/n}')"
	record "$v" "$r" "${p}_machine_cores" "$(awk -v a="$b0" -v b="$b1" -v x="$a0" -v y="$a1" -v n="$NCPU" 'BEGIN{print (b-a)/(y-x)*n}')"
	jq -r --arg p "$p" '
		[["ok", .ok], ["failed", .failed], ["rps", .throughput_rps],
		 ["lat_p50", .latency_ms.p50], ["lat_p99", .latency_ms.p99]]
		+ (if .streams then
		 [["fd_p50", .streams.first_delta_ms.p50], ["fd_p95", .streams.first_delta_ms.p95],
		  ["gap_p50", .streams.event_gap_ms.p50], ["gap_p95", .streams.event_gap_ms.p95],
		  ["gap_p99", .streams.event_gap_ms.p99], ["gap_max", .streams.event_gap_ms.max],
		  ["complete", .streams.complete], ["dropped", .streams.dropped], ["reordered", .streams.reordered],
		  ["mismatched", .streams.mismatched], ["stream_failed", .streams.failed]] else [] end)
		| .[] | "\($p)_\(.[0])\t\(.[1])"' "$out" |
		while IFS=$'\t' read -r key val; do record "$v" "$r" "$key" "$val"; done
}

# gaps URL BODY: the gaps in ms between consecutive streamed text events of
# one stream (kefu's delta events or the model's content chunks)
gaps() {
	curl -sN --max-time 30 -X POST "$1" -H 'Content-Type: application/json' -H 'Accept: text/event-stream' -d "$2" |
		while IFS= read -r line; do
			case $line in
			*'"content":""'*) ;;
			'data: {"text"'* | *'"delta":{"content":"'*) printf '%s\n' "$EPOCHREALTIME" ;;
			esac
		done | awk 'NR>1{printf "%.3f\n", ($1-p)*1000} {p=$1}'
}

# trace V R: one stream through kefu at rest, event by event: meta to the
# first delta, the end (last delta to done), and the gaps before
# deltas without digits and before deltas with digits (sentences the fact
# gate held and then released whole)
trace() {
	local v=$1 r=$2 out=$tmp/raw/trace-$1-$2.tsv t0
	t0=$EPOCHREALTIME
	curl -sN --max-time 30 -X POST "$KEFU/v1/chat" -H 'Content-Type: application/json' -H 'Accept: text/event-stream' \
		-d "$CHAT_BODY" | while IFS= read -r line; do
		case $line in
		'event: '*) ev=${line#event: } ;;
		'data: '*) printf '%s\t%s\t%s\n' "$EPOCHREALTIME" "$ev" "${line:0:80}" ;;
		esac
	done >"$out"
	awk -F'\t' -v t0="$t0" -v v="$v" -v r="$r" -v held="$tmp/held.$v.$r" -v flow="$tmp/flow.$v.$r" '
		{ t = ($1 - t0) * 1000 }
		$2 == "meta" { meta = t }
		$2 == "delta" {
			if (!first) { first = t; print v "\t" r "\ttrace_meta_to_first_delta_ms\t" t - meta }
			else { g = t - last; if ($3 ~ /"text":"[^"]*[0-9]/) print g > held; else print g > flow }
			last = t
		}
		$2 == "done" { print v "\t" r "\ttrace_tail_ms\t" t - last }' "$out" >>"$tmp/metrics.tsv"
	touch "$tmp/held.$v.$r" "$tmp/flow.$v.$r"
	[[ -s $tmp/flow.$v.$r ]] && record "$v" "$r" trace_gap_plain_max "$(pct 100 <"$tmp/flow.$v.$r")"
	[[ -s $tmp/flow.$v.$r ]] && record "$v" "$r" trace_gap_plain_p50 "$(pct 50 <"$tmp/flow.$v.$r")"
	[[ -s $tmp/held.$v.$r ]] && record "$v" "$r" trace_gap_released "$(sort -g "$tmp/held.$v.$r" | tr '\n' ' ' | sed 's/ $//')"
	return 0
}

for r in $(seq "$RUNS"); do
	for v in policy plain; do
		echo "run $r/$RUNS, reply $v: $(date +%T)"
		reply=$REPLY_POLICY
		[[ $v == plain ]] && reply=$REPLY_PLAIN
		start_fake "$reply"
		start_kefu "$tmp/data-$v-$r"
		wait_ready "$KEFU/readyz" "$kefu_pid"
		"$K" bench --url "$KEFU" --sse --concurrency 2 --requests 4 --message "$MESSAGE" --json >/dev/null || true

		model_alone "$v" "$r" 1 5
		model_alone "$v" "$r" 100 300
		model_alone "$v" "$r" 500 1000
		trace "$v" "$r"
		bench "$v" "$r" sse 1 8
		bench "$v" "$r" json 1 5
		bench "$v" "$r" sse 100 500
		bench "$v" "$r" json 100 500
		bench "$v" "$r" sse 500 2500
		bench "$v" "$r" sse 100 500 2s
		bench "$v" "$r" json 100 500 2s
		# four probes of the model's own token gaps while 500 streams run
		probes=()
		for k in 1 2 3 4; do
			(sleep "$((k + 2))" && for j in 1 2; do gaps "$FAKE/v1/chat/completions" "$(cat "$tmp/completion.json")"; done) \
				>"$tmp/probe.$v.$r.$k" &
			probes+=("$!")
		done
		bench "$v" "$r" sse 500 2500 2s
		for k in "${probes[@]}"; do wait "$k" || true; done
		cat "$tmp/probe.$v.$r".* >"$tmp/raw/probe-$v-$r.txt"
		record "$v" "$r" model_gap_under_c500_p50 "$(pct 50 <"$tmp/raw/probe-$v-$r.txt")"
		record "$v" "$r" model_gap_under_c500_p99 "$(pct 99 <"$tmp/raw/probe-$v-$r.txt")"
		# connections kefu keeps open to the model once the load is over
		if command -v ss >/dev/null; then
			record "$v" "$r" model_conns_idle_after "$(ss -Htn state established "( dport = :$FAKE_PORT )" | wc -l)"
		fi
		stop "$kefu_pid" "$fake_pid"
		cp "$tmp/serve.log" "$tmp/raw/serve-$v-$r.log"
	done
done

# Derived figures, per run: kefu's latency minus the model's own at the same
# concurrency, and kefu's first delta minus the model's first byte.
awk -F'\t' '{ m[$1 "\t" $2 "\t" $3] = $4; k[$1 "\t" $2] = 1 }
	END {
		for (vr in k) {
			for (c = 1; c <= 500; c *= (c == 1 ? 100 : 5)) {
				for (pre = 0; pre < 2; pre++) {
					r = pre ? "ramp_" : ""
					if ((vr "\t" r "json_c" c "_lat_p50") in m) {
						print vr "\t" r "overhead_json_c" c "_p50\t" m[vr "\t" r "json_c" c "_lat_p50"] - m[vr "\tmodel_c" c "_lat_p50"]
						print vr "\t" r "overhead_json_c" c "_p99\t" m[vr "\t" r "json_c" c "_lat_p99"] - m[vr "\tmodel_c" c "_lat_p99"]
					}
					if ((vr "\t" r "sse_c" c "_lat_p50") in m) {
						print vr "\t" r "overhead_sse_c" c "_p50\t" m[vr "\t" r "sse_c" c "_lat_p50"] - m[vr "\tmodel_c" c "_lat_p50"]
						print vr "\t" r "overhead_sse_c" c "_p99\t" m[vr "\t" r "sse_c" c "_lat_p99"] - m[vr "\tmodel_c" c "_lat_p99"]
						print vr "\t" r "ttft_added_c" c "_p50\t" m[vr "\t" r "sse_c" c "_fd_p50"] - m[vr "\tmodel_c" c "_ttfb_p50"]
						print vr "\t" r "ttft_added_c" c "_p95\t" m[vr "\t" r "sse_c" c "_fd_p95"] - m[vr "\tmodel_c" c "_ttfb_p95"]
					}
				}
			}
		}
	}' "$tmp/metrics.tsv" >>"$tmp/metrics.tsv"

echo
echo "Medians over $RUNS run(s) (min..max); times in ms"
echo
awk -F'\t' '$3 != "trace_gap_released" { key = $1 "\t" $3; n[key]++; v[key, n[key]] = $4 }
	END {
		for (key in n) {
			c = n[key]
			for (i = 1; i <= c; i++) a[i] = v[key, i] + 0
			for (i = 2; i <= c; i++) { x = a[i]; j = i - 1; while (j >= 1 && a[j] > x) { a[j + 1] = a[j]; j-- } a[j + 1] = x }
			med = (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
			split(key, kv, "\t")
			printf "%-7s %-28s %10.2f  (%.2f..%.2f)\n", kv[1], kv[2], med, a[1], a[c]
		}
	}' "$tmp/metrics.tsv" | sort -k1,1 -k2,2
echo
awk -F'\t' '$3 == "trace_gap_released" { printf "%-7s run %s: gaps before the released held sentences: %s ms\n", $1, $2, $4 }' "$tmp/metrics.tsv"
