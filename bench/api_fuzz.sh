#!/usr/bin/env bash
# Fuzz the HTTP API of a live daemon with schemathesis, driven by our own OpenAPI document, for a bounded time.
#
#   bench/api_fuzz.sh [SECONDS]          # default 120; starts its own daemon in a temporary SYMBI_HOME
#
# Every operation is exercised with generated valid and invalid inputs (examples, coverage and fuzzing phases; no
# stateful phase). The checks: no 5xx ever, status codes, content types and bodies as documented, invalid data
# rejected, Allow on 405. It prints schemathesis's summary and the daemon's log lines about internal errors.
# schemathesis is installed into .venv when missing (the test extras bring it; tests/http/test_openapi_fuzz.py runs
# it in the suite on a small budget, this script for a longer one against a daemon).
set -euo pipefail

SECONDS_BUDGET="${1:-120}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY="$(command -v python3)"
SCHEMATHESIS="$(dirname "$PY")/schemathesis"
if [ ! -x "$SCHEMATHESIS" ]; then
  echo "installing schemathesis into $(dirname "$(dirname "$PY")")" >&2
  "$PY" -m pip install --quiet schemathesis
fi

HOME_DIR="$(mktemp -d -t symbi-api-fuzz-XXXXXX)"
export SYMBI_HOME="$HOME_DIR"
unset SYMBI_API_KEY || true
PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat > "$HOME_DIR/config.toml" <<EOF
[api]
port = $PORT
[scheduler]
tick_interval_seconds = 1
default_timezone = "UTC"
EOF

symbi() { "$PY" -m symbi_cron "$@"; }
cleanup() {
  symbi cron daemon stop >/dev/null 2>&1 || true
  rm -rf "$HOME_DIR"
}
trap cleanup EXIT

symbi agent add echo --command "cat" >/dev/null
symbi cron add --json '{"name": "fuzz-target", "agent_id": "echo", "cron_expr": "0 0 1 1 *"}' >/dev/null
symbi cron daemon start
KEY="$(symbi api-key)"
URL="http://127.0.0.1:$PORT"
curl -fsS -H "Authorization: Bearer $KEY" "$URL/api/v1/openapi.json" -o "$HOME_DIR/openapi.json"

echo "schemathesis against $URL for ${SECONDS_BUDGET}s"
set +e
"$SCHEMATHESIS" run "$HOME_DIR/openapi.json" --url "$URL" \
  -H "Authorization: Bearer $KEY" \
  --phases examples,coverage,fuzzing \
  --checks all --exclude-checks ignored_auth,positive_data_acceptance \
  --max-time "$SECONDS_BUDGET" --workers 2 --seed 1 \
  --generation-allow-x00 true \
  --suppress-health-check all \
  --no-color
STATUS=$?
set -e

echo
echo "daemon log, internal errors (should be none):"
grep -n "internal error" "$HOME_DIR/daemon.log" || echo "  none"
echo "daemon still answering: $(curl -s -o /dev/null -w '%{http_code}' "$URL/health")"
exit $STATUS
