#!/usr/bin/env bash
# API robustness: schemathesis against /api/schema/ of a live server (daphne) on a fresh SQLite
# database seeded with the demo project, signed in with the demo user's token. Checks that no
# answer is a 5xx and that every answer conforms to the schema. No worker runs: work is queued.
#
#   REDIS_URL=redis://127.0.0.1:6379/8 bench/api_robustness.sh [max examples per operation, default 5]
#
# Needs schemathesis (requirements-dev.txt; SCHEMATHESIS=path/to/schemathesis to use another).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${REDIS_URL:?set REDIS_URL to a Redis this run may use}"
PYTHON=${PYTHON:-.venv/bin/python}
SCHEMATHESIS=${SCHEMATHESIS:-$(dirname "$PYTHON")/schemathesis}  # the venv's, beside PYTHON
PORT=${PORT:-8765}
EXAMPLES=${1:-5}
VAR=$(mktemp -d)
export LESSLABEL_VAR_DIR=$VAR DJANGO_SETTINGS_MODULE=webapp.settings REDIS_URL
unset DATABASE_URL
"$PYTHON" manage.py migrate --noinput >/dev/null
"$PYTHON" manage.py seed_demo >/dev/null
TOKEN=$("$PYTHON" manage.py drf_create_token demo | awk '{print $3}')
"$PYTHON" -m daphne -b 127.0.0.1 -p "$PORT" webapp.asgi:application >"$VAR/daphne.log" 2>&1 &
DAPHNE=$!
trap 'kill $DAPHNE 2>/dev/null; wait $DAPHNE 2>/dev/null; rm -rf "$VAR"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.3; done
"$SCHEMATHESIS" run "http://127.0.0.1:$PORT/api/schema/" \
  -H "Authorization: Token $TOKEN" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance \
  --max-examples "$EXAMPLES" --workers 1 --request-timeout 60 \
  --phases examples,coverage,fuzzing --seed 40 \
  --report junit --report-junit-path "${REPORT:-$VAR/junit.xml}"
