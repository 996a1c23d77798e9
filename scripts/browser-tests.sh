#!/usr/bin/env bash
# Browser tests of kefu's screens: every web/e2e/*.test.mjs, run by Node's
# test runner against a fresh `kefu serve --demo`, in headless Debian
# chromium driven by playwright-core.
#
# Installs what is missing: chromium with apt-get (only when /usr/bin/chromium
# is absent, and never while another apt runs), playwright-core and axe-core
# with npm into a cache folder outside the repository
# (KEFU_E2E_CACHE, default ~/.cache/kefu-e2e).
#
# The tests get, in the environment: KEFU_E2E_BASE (http://127.0.0.1:PORT),
# KEFU_E2E_ADMIN_KEY, KEFU_E2E_AGENT_KEY, KEFU_E2E_MODULES (the node_modules
# folder), KEFU_E2E_CHROMIUM, KEFU_E2E_DATA (the server's data dir) and
# KEFU_E2E_BIN (the kefu binary). KEFU_E2E_SCREENSHOTS=1 makes them write
# the screenshots under docs/screens/. Arguments are passed to node --test
# (e.g. --test-name-pattern=widget); KEFU_E2E_FILES overrides the files.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

PLAYWRIGHT_VERSION=1.65.2
AXE_VERSION=4.14.1
cache=${KEFU_E2E_CACHE:-$HOME/.cache/kefu-e2e}
chromium=${KEFU_E2E_CHROMIUM:-/usr/bin/chromium}

apt_busy() { pgrep -x apt-get >/dev/null || pgrep -x apt >/dev/null || pgrep -x dpkg >/dev/null; }

if [ ! -x "$chromium" ]; then
  # Another apt may be installing it right now: wait for it rather than
  # starting a second one.
  for _ in $(seq 1 180); do
    [ -x "$chromium" ] && break
    apt_busy || break
    echo "browser tests: waiting for the running apt to finish ($chromium is absent)"
    sleep 5
  done
  if [ ! -x "$chromium" ]; then
    if apt_busy; then echo "browser tests: apt is still busy and $chromium is absent" >&2; exit 1; fi
    echo "browser tests: installing chromium with apt-get"
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
fi
command -v node >/dev/null || { echo "browser tests: node is not installed (Node 20 or later is needed)" >&2; exit 1; }

modules="$cache/node_modules"
if [ ! -f "$modules/playwright-core/package.json" ] || [ ! -f "$modules/axe-core/axe.min.js" ] ||
   ! grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$modules/playwright-core/package.json" ||
   ! grep -q "\"version\": \"$AXE_VERSION\"" "$modules/axe-core/package.json"; then
  echo "browser tests: installing playwright-core@$PLAYWRIGHT_VERSION axe-core@$AXE_VERSION into $cache"
  mkdir -p "$cache"
  [ -f "$cache/package.json" ] || echo '{"name":"kefu-e2e","private":true}' > "$cache/package.json"
  (cd "$cache" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent \
    "playwright-core@$PLAYWRIGHT_VERSION" "axe-core@$AXE_VERSION")
fi

tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "browser tests: building kefu"
go build -o "$tmp/kefu" ./cmd/kefu

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
       node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
base="http://127.0.0.1:$port"
# The server runs with the default limits, as a shop would.
"$tmp/kefu" serve --demo --addr "127.0.0.1:$port" --data-dir "$tmp/data" >"$tmp/stdout.log" 2>"$tmp/stderr.log" &
pid=$!
for _ in $(seq 1 300); do
  if curl -fs "$base/readyz" >/dev/null 2>&1; then break; fi
  kill -0 "$pid" 2>/dev/null || { echo "browser tests: kefu serve stopped:" >&2; tail -20 "$tmp/stderr.log" >&2; exit 1; }
  sleep 0.2
done
curl -fs "$base/readyz" >/dev/null || { echo "browser tests: kefu serve did not get ready" >&2; tail -20 "$tmp/stderr.log" >&2; exit 1; }
admin=$(awk '$1 == "admin" && $2 ~ /^kefu_admin_/ {print $2; exit}' "$tmp/stderr.log")
agent=$(awk '$1 == "agent" && $2 ~ /^kefu_agent_/ {print $2; exit}' "$tmp/stderr.log")
if [ -z "$admin" ] || [ -z "$agent" ]; then
  echo "browser tests: kefu serve --demo printed no admin and agent keys" >&2; exit 1
fi

if [ -n "${KEFU_E2E_FILES:-}" ]; then
  read -r -a files <<<"$KEFU_E2E_FILES"
else
  files=(web/e2e/*.test.mjs)
fi
echo "browser tests: ${#files[@]} file(s) against $base"
status=0
KEFU_E2E_BASE=$base KEFU_E2E_ADMIN_KEY=$admin KEFU_E2E_AGENT_KEY=$agent KEFU_E2E_MODULES=$modules \
KEFU_E2E_CHROMIUM=$chromium KEFU_E2E_DATA="$tmp/data" KEFU_E2E_BIN="$tmp/kefu" KEFU_E2E_REPO="$repo" \
  node --test --test-concurrency=1 --test-timeout=300000 "$@" "${files[@]}" || status=$?
if [ "$status" != 0 ]; then
  echo "browser tests: failed; the server's last log lines:" >&2
  tail -30 "$tmp/stderr.log" >&2
fi
exit "$status"
