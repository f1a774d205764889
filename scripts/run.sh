#!/usr/bin/env bash
# `make run`: migrate, load the demo, then serve it with the web server, a real Celery worker, a worker for
# the sweeps and Celery beat (which sends the sweeps for lost gate runs and deliveries). Ctrl-C (or SIGTERM)
# stops them all. Runs on the embedded default (SQLite and Celery's filesystem broker under var/) unless
# DATABASE_URL, CELERY_BROKER_URL and REDIS_URL say otherwise. With the mlflow package installed (make
# install installs it), a local MLflow tracking server runs too (MLFLOW_PORT, 5001 unless said), and the
# demo's late-delivery-risk is trained, logged to it and registered from its runs; without it, that model's
# versions are loaded as recorded from such runs.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
PYTHON="$VENV/bin/python"
PORT="${PORT:-8000}"
ADDRESS="127.0.0.1:$PORT"
# The demo is for this machine: DEBUG on, which is also the only case where the dev-only secret key applies.
export DEBUG=1
export PYTHONUNBUFFERED=1
# The address API answers and links name.
export WAREHOUSE_BASE_URL="${WAREHOUSE_BASE_URL:-http://$ADDRESS}"
# Beat remembers when it last sent each periodic task in this file, next to the database and the broker.
VAR_DIR="${WAREHOUSE_VAR_DIR:-var}"
mkdir -p "$VAR_DIR"

# SO_REUSEADDR as the server sets it: connections of a previous run waiting to close do not count.
port_free="import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1])))"
if ! "$PYTHON" -c "$port_free" "$PORT" 2>/dev/null; then
  echo "Port $PORT on 127.0.0.1 is taken: stop what uses it, or run on another port (PORT=8001 make run)." >&2
  exit 1
fi

pids=()
# The demo's training pipeline, run in the background once the worker is up; not one of `pids`: it ends.
trainer=""
local_tracking=0

stop() {
  trap - INT TERM EXIT
  # Ctrl-C also ends a `| tee` reading our output: writing to it must not end this script before its children.
  trap '' PIPE
  if [[ -n "$trainer" ]]; then kill -TERM "$trainer" 2>/dev/null || true; fi
  ((${#pids[@]})) || return 0
  echo "Stopping the web server, the workers and beat$( ((local_tracking)) && echo ", and the tracking server")" \
    "(a warm shutdown: a few seconds)..." 2>/dev/null || true
  kill -TERM "${pids[@]}" 2>/dev/null || true
  # The worker finishes what it holds first, which takes it several seconds; after 20, insist.
  for _ in $(seq 100); do
    local alive=0 pid
    for pid in "${pids[@]}"; do
      if kill -0 "$pid" 2>/dev/null; then alive=1; fi
    done
    ((alive)) || break
    sleep 0.2
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

all_running() {
  local pid
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || return 1
  done
}

# Each line is labelled with the process that wrote it. The labeller ignores Ctrl-C, so it still passes on
# what the worker says while it shuts down; it ends when the process it labels does.
label() { trap '' INT; exec awk -v label="$1" '{ print label $0; fflush() }'; }

# The local tracking server, when the full mlflow package (the server, not only the client) is installed:
# SQLite and artifacts under $VAR_DIR/mlflow/, on 127.0.0.1 only, without auth. It starts while the database
# migrates.
MLFLOW_PORT="${MLFLOW_PORT:-5001}"
MLFLOW_DIR="$VAR_DIR/mlflow"
if "$PYTHON" -c "import importlib.metadata as m; m.version('mlflow')" 2>/dev/null; then
  if ! "$PYTHON" -c "$port_free" "$MLFLOW_PORT" 2>/dev/null; then
    echo "Port $MLFLOW_PORT on 127.0.0.1 (the local MLflow tracking server) is taken: stop what uses it, or run" \
      "the tracking server on another port (MLFLOW_PORT=5002 make run)." >&2
    exit 1
  fi
  mkdir -p "$MLFLOW_DIR/artifacts"
  # No background job runner to start, and nothing sent out of the machine.
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true \
    "$VENV/bin/mlflow" server --backend-store-uri "sqlite:///$(cd "$MLFLOW_DIR" && pwd)/mlflow.db" \
    --artifacts-destination "$MLFLOW_DIR/artifacts" --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 \
    > "$MLFLOW_DIR/server.log" 2>&1 &
  pids+=($!)
  local_tracking=1
fi

"$PYTHON" manage.py migrate --noinput

if ((local_tracking)); then
  healthy=0
  for _ in $(seq 120); do
    if "$PYTHON" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
        "http://127.0.0.1:$MLFLOW_PORT/health" 2>/dev/null; then
      healthy=1
      break
    fi
    all_running || break
    sleep 0.5
  done
  if ((healthy)); then
    export WAREHOUSE_TRACKING_SERVERS="${WAREHOUSE_TRACKING_SERVERS:+$WAREHOUSE_TRACKING_SERVERS;}mlflow-local=http://127.0.0.1:$MLFLOW_PORT|WAREHOUSE_TRACKING_TOKEN_MLFLOW_LOCAL"
  else
    echo "The local MLflow tracking server did not start (see $MLFLOW_DIR/server.log): late-delivery-risk is" \
      "loaded as recorded from tracked runs instead." >&2
    tail -n 20 "$MLFLOW_DIR/server.log" >&2 || true
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    pids=()
    local_tracking=0
  fi
fi

"$PYTHON" manage.py tracking_servers_sync
if ((local_tracking)); then
  "$PYTHON" manage.py seed_demo --no-recorded-runs
else
  "$PYTHON" manage.py seed_demo
fi

# No -Q: the worker consumes every queue CELERY_TASK_QUEUES lists (celery, gates for the gate runs, webhooks,
# imports for the evidence imports from tracked runs, sweeps). The sweeper consumes only the sweeps, so a
# backlog of gates never delays them.
"$VENV/bin/celery" -A warehouse worker --loglevel=INFO --concurrency=1 > >(label "[worker] ") 2>&1 &
pids+=($!)
"$VENV/bin/celery" -A warehouse worker --loglevel=INFO --concurrency=1 -Q sweeps --hostname "sweeper@%h" \
  > >(label "[sweeper]") 2>&1 &
pids+=($!)
"$VENV/bin/celery" -A warehouse beat --loglevel=INFO --schedule "$VAR_DIR/celerybeat-schedule" \
  > >(label "[beat]   ") 2>&1 &
pids+=($!)
"$PYTHON" manage.py runserver --noreload "$ADDRESS" > >(label "[web]    ") 2>&1 &
pids+=($!)

# Announce the address only once it answers.
answered=0
for _ in $(seq 120); do
  if "$PYTHON" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
      "http://$ADDRESS/accounts/sign-in/" 2>/dev/null; then
    answered=1
    break
  fi
  all_running || { echo "The web server, the worker, beat or the tracking server stopped while starting: see above." >&2; exit 1; }
  sleep 0.5
done
((answered)) || { echo "The web server did not answer on http://$ADDRESS/ within a minute." >&2; exit 1; }

rule="================================================================================================"
echo
echo "$rule"
echo "  Warehouse is running at http://$ADDRESS/"
echo "  Web server, Celery worker, sweeper and Celery beat$( ((local_tracking)) && echo ", and the MLflow tracking server,") started." \
  "Press Ctrl-C to stop them."
echo "$rule"
"$PYTHON" manage.py seed_demo --sign-ins-only
if ((local_tracking)); then
  echo
  echo "  MLflow tracking server (mlflow-local): http://127.0.0.1:$MLFLOW_PORT/ (its log: $MLFLOW_DIR/server.log)"
  echo "  late-delivery-risk's versions come from runs logged there: /models/late-delivery-risk/"
else
  echo
  echo "  late-delivery-risk's versions are recorded from tracked MLflow runs (install the mlflow package,"
  echo "  make install, for a local tracking server and live runs)."
fi
echo "$rule"
echo

# The demo's training pipeline: logs late-delivery-risk's runs to the local server and registers each version
# from its run; the worker imports the evidence. In the background: the demo is usable meanwhile.
if ((local_tracking)); then
  "$PYTHON" manage.py demo_tracked_runs --server mlflow-local > >(label "[runs]   ") 2>&1 &
  trainer=$!
fi

# Whichever stops first, the others follow: a demo without its worker or its sweeper would mislead.
while all_running; do
  sleep 1
done
echo "The web server, a worker, beat or the tracking server stopped: stopping the others." >&2
exit 1
