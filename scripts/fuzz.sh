#!/usr/bin/env bash
# fuzz.sh runs every fuzz target of the module briefly: each FuzzXxx
# function found by `go test -list` in every package, for FUZZTIME (default
# 4s) with minimisation capped at 3s. A failing input is written under the
# package's testdata/fuzz and fails the run. Run it from anywhere:
#
#   bash scripts/fuzz.sh            # every target
#   FUZZTIME=1m bash scripts/fuzz.sh ./guard   # longer, one package
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-4s}
pkgs=("$@")
[[ ${#pkgs[@]} -eq 0 ]] && pkgs=(./...)

n=0
for pkg in $(go list "${pkgs[@]}"); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	grep -lq '^func Fuzz' "$dir"/*_test.go 2>/dev/null || continue
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
		echo "== fuzz $pkg $target ($FUZZTIME)"
		ok=0
		for attempt in 1 2; do
			if out=$(go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime=3s "$pkg" 2>&1); then
				ok=1
				break
			fi
			# Go's fuzzing engine ends a run whose worker is still busy when
			# the time is up with "context deadline exceeded" and no input:
			# that is the machine being slow, not a finding (a finding
			# always writes its input under testdata/fuzz), so it is run
			# once more.
			if [[ $attempt -eq 1 ]] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
				echo "fuzz.sh: $pkg $target stopped by its own deadline without a finding; running it again"
				continue
			fi
			break
		done
		if [[ $ok -eq 0 ]]; then
			echo "$out" | tail -40
			echo "fuzz.sh: $pkg $target failed" >&2
			exit 1
		fi
		n=$((n + 1))
	done
done
echo "fuzz.sh: $n targets ran clean"
