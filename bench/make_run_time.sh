#!/usr/bin/env bash
# Time `make run` on a fresh clone until the dashboard serves, and check Ctrl-C leaves nothing.
#
#   bench/make_run_time.sh
#
# A clone has only committed files: that is the point. Three starts of the same clone:
#   1. cold  — new clone, empty pip cache;
#   2. warm  — .venv/ and var/ removed (git clean), only pip's cache kept from start 1;
#   3. again — nothing removed: the demo cameras must still be 2, no admin password printed.
# Each start is `setsid make run` (its own process group), stopped with SIGINT to that group,
# as Ctrl-C in a terminal would. pip's cache is private to the temp dir: start 1 begins with
# it empty (cold) and fills it for start 2; the user's own cache is neither read nor touched.
set -euo pipefail

START_TIMEOUT=${START_TIMEOUT:-900} # seconds; a cold pip install downloads ~100 MB
STOP_TIMEOUT=15
PASSWORD=bench-admin-password-1

main_repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/make-run-time.XXXXXX)
repo=$tmp/repo
pgid=""

# The clone must use its own defaults: data in var/, its own Redis.
unset DATABASE_URL REDIS_URL SURVEILLANCE_DATA_DIR SURVEILLANCE_BIND DJANGO_SECRET_KEY \
    DJANGO_ALLOWED_HOSTS DJANGO_DEBUG PYTHONDONTWRITEBYTECODE PIP_NO_CACHE_DIR VIRTUAL_ENV
export PIP_CACHE_DIR=$tmp/pip-cache

cleanup() {
    if [[ -n $pgid ]] && kill -0 -- "-$pgid" 2>/dev/null; then
        kill -INT -- "-$pgid" 2>/dev/null || true
        sleep 5
        kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# PIDs of processes belonging to the clone: named in their command line, or running in it.
clone_pids() {
    local dir
    {
        pgrep -f "$repo" || true
        for dir in /proc/[0-9]*; do
            [[ $(readlink "$dir/cwd" 2>/dev/null) == "$repo"* ]] && echo "${dir#/proc/}"
        done
    } | sort -un | grep -vx "$$" || true
}

load() { cut -d' ' -f1-3 /proc/loadavg; }

# start LABEL [ENV=VALUE ...]: start `make run`, time until the login page answers 200.
start() {
    local label=$1 port code t0 elapsed log last=0 setup=""
    shift
    port=$(free_port)
    log=$tmp/$label.log
    echo "[$label] make run BIND=127.0.0.1:$port (load $(load))"
    t0=$(date +%s.%N)
    (cd "$repo" && exec env "$@" setsid make run "BIND=127.0.0.1:$port") >"$log" 2>&1 &
    pgid=$!
    sleep 0.2
    [[ $(ps -o pgid= -p "$pgid" | tr -d ' ') == "$pgid" ]] || echo "[$label] WARNING: make is not its own group leader"
    while :; do
        code=$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://127.0.0.1:$port/accounts/login/" || true)
        elapsed=$(echo "$(date +%s.%N) - $t0" | bc)
        # pip, migrate and bootstrap are done once make echoes the runsurveillance line
        [[ -z $setup ]] && grep -q 'manage.py runsurveillance' "$log" && setup=$elapsed
        [[ $code == 200 ]] && break
        if ! kill -0 "$pgid" 2>/dev/null; then
            echo "[$label] FAILED: make exited before serving; end of its log:"
            tail -20 "$log"
            return 1
        fi
        if (($(echo "$elapsed > $START_TIMEOUT" | bc))); then
            echo "[$label] FAILED: no 200 within $START_TIMEOUT s; end of its log:"
            tail -20 "$log"
            return 1
        fi
        if (($(echo "$elapsed - $last >= 5" | bc))); then
            last=$elapsed
            printf '[%s] %5.0f s: waiting (HTTP %s); log: %s\n' "$label" "$elapsed" "$code" \
                "$(tail -1 "$log" | cut -c1-90)"
        fi
        sleep 0.5
    done
    printf '[%s] RESULT: dashboard login page 200 after %.1f s (load %s)\n' "$label" "$elapsed" "$(load)"
    printf '[%s]   of which venv+pip+migrate+bootstrap ~%.1f s, runsurveillance to 200 ~%.1f s\n' \
        "$label" "${setup:-$elapsed}" "$(echo "$elapsed - ${setup:-$elapsed}" | bc)"
}

# stop LABEL: SIGINT to the make process group; nothing of the clone may remain after 15 s.
stop() {
    local label=$1 waited=0 left
    left=$(clone_pids)
    echo "[$label] running before SIGINT: $(ps -o comm= -p "$(echo "$left" | paste -sd,)" | sort | uniq -c | xargs)"
    kill -INT -- "-$pgid"
    while left=$(clone_pids) && [[ -n $left ]] && ((waited < STOP_TIMEOUT * 2)); do
        sleep 0.5
        waited=$((waited + 1))
    done
    if [[ -z $left ]]; then
        printf '[%s] RESULT: after SIGINT no process of the clone remains (%.1f s)\n' "$label" \
            "$(echo "$waited / 2" | bc -l)"
    else
        echo "[$label] RESULT: LEFT BEHIND after ${STOP_TIMEOUT} s:"
        ps -o pid,pgid,etime,args -p "$(echo "$left" | paste -sd,)" || true
        echo "$left" | xargs -r kill -KILL 2>/dev/null || true
    fi
    pgid=""
    local problems
    problems=$(grep -E 'Traceback|ERROR|CRITICAL|Error:' "$tmp/$label.log" || true)
    [[ -n $problems ]] && { echo "[$label] problems in the log:"; echo "$problems" | head -20; }
    echo "[$label] admin passwords printed: $(grep -c 'Admin login' "$tmp/$label.log" || true);" \
        "demo cameras registered: $(grep -c 'Registered two demo cameras' "$tmp/$label.log" || true)"
    mkdir -p "$main_repo/bench/out"
    cp "$tmp/$label.log" "$main_repo/bench/out/make_run_time-$label.log"
}

count_rows() {
    (cd "$repo" && .venv/bin/python manage.py shell --verbosity 0 -c \
        'from cameras.models import Camera; from django.contrib.auth.models import User;
print(Camera.objects.count(), User.objects.filter(username="admin").count())')
}

echo "machine: $(nproc) cores; load average $(load); clone of $main_repo at $(git -C "$main_repo" rev-parse --short HEAD)"
git clone -q "$main_repo" "$repo"

start 1-cold SURVEILLANCE_ADMIN_PASSWORD=$PASSWORD
stop 1-cold
if [[ -d $PIP_CACHE_DIR ]]; then
    echo "[1-cold] pip cache filled: $(du -sh "$PIP_CACHE_DIR" | cut -f1)"
else
    echo "[1-cold] pip cached nothing (local wheels, or no cache headers): start 2 is not warmer"
fi

git -C "$repo" clean -xdfq # .venv/, var/, caches: only pip's cache survives
start 2-warm SURVEILLANCE_ADMIN_PASSWORD=$PASSWORD
stop 2-warm

# No password in the environment: an existing admin must not get a new one printed.
start 3-again
read -r cameras admins <<<"$(count_rows)"
echo "[3-again] RESULT: demo cameras $cameras (want 2), admin accounts $admins (want 1)"
stop 3-again
echo "load average at the end: $(load)"
