#!/usr/bin/env bash
# Pass-through proxy benchmark: our gateway (`local`) vs nginx as a reverse proxy.
#
#   bench/run.sh                      # defaults: DURATION=15s CONNECTIONS=32
#   DURATION=30s CONNECTIONS=64 bench/run.sh
#   CALLGRIND=1 bench/run.sh          # user instructions per request instead
#
# Layout on a 2-core machine (needs at least 2 CPUs):
#   CPU 0: the proxy under test, alone (nginx: 1 worker; gateway: 1 tokio worker)
#   CPU 1: the upstream (nginx, `return 200 "ok"`) and the load generator (wrk -t1)
#
# For each proxy it reports requests/s, p50/p99 latency (wrk --latency), the
# proxy's CPU time per request (utime+stime from /proc/PID/stat over the
# measured run, nginx master + worker), and how busy both CPUs were (from
# /proc/stat); it warns when CPU 0 was busier than the proxy accounts for,
# i.e. when something else ran there. Everything listens on 127.0.0.1 only;
# all processes are stopped on exit. Results: stdout and bench/results/latest.md.
#
# Environment:
#   DURATION     measured run per proxy, wrk syntax        (default 15s)
#   WARMUP       warm-up run per proxy before measuring    (default 3s)
#   CONNECTIONS  wrk connections                            (default 32)
#   ROUNDS       measured runs per proxy, alternating       (default 1)
#   PROXY_CPU / LOAD_CPU   cores to pin to                  (default 0 / 1)
#   NGINX_FWD=1  also measure nginx setting the gateway's forwarding headers
#                (X-Forwarded-For/-Proto/-Host, Forwarded), i.e. equal work
#   GATEWAY_PRELOAD  LD_PRELOAD for the gateway only (e.g. an allocator experiment)
#   SKIP_BUILD=1 do not run cargo build
#   GATEWAY_BIN  gateway binary                             (default target/release/local)
#   CALLGRIND=1  count the gateway's user-space instructions per request under
#                `valgrind --tool=callgrind` instead (no nginx proxy, no
#                wall-clock table): a deterministic measure for comparing two
#                builds (GATEWAY_BIN=...). DURATION defaults to 10s and
#                CONNECTIONS to 8 here; the profile is left in
#                bench/results/tmp/callgrind.out. Callgrind counts each byte
#                step of `rep movsb` as an instruction, so large memcpy weighs
#                more there than on the CPU.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CALLGRIND=${CALLGRIND:-0}
if [[ $CALLGRIND == 1 ]]; then
    DURATION=${DURATION:-10s}
    CONNECTIONS=${CONNECTIONS:-8}
fi
DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-3s}
CONNECTIONS=${CONNECTIONS:-32}
ROUNDS=${ROUNDS:-1}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
GATEWAY_BIN=${GATEWAY_BIN:-$ROOT/target/release/local}
RESULTS_DIR=$ROOT/bench/results
PATH_UNDER_TEST=/bench

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    local f
    if [[ -n ${TMP:-} && -d $TMP ]]; then
        for f in "$TMP"/gateway.log "$TMP"/*/error.log; do
            [[ -s $f ]] && { log "--- $f"; tail -n 20 "$f" >&2; }
        done
    fi
    exit 1
}

# ---------------------------------------------------------------- tools
ensure_tools() {
    local missing=()
    command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
    command -v getconf >/dev/null 2>&1 || missing+=(libc-bin)
    [[ $CALLGRIND != 1 ]] || command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
    if ((${#missing[@]})); then
        command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get"
        [[ $(id -u) -eq 0 ]] || die "missing ${missing[*]}; run as root to install them"
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        # Debian's package may start a system nginx on :80; it is not ours and is left alone.
    fi
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    command -v cargo >/dev/null 2>&1 || [[ ${SKIP_BUILD:-0} == 1 ]] || die "cargo not found (install Rust, or SKIP_BUILD=1 with GATEWAY_BIN)"
    local ncpu
    ncpu=$(getconf _NPROCESSORS_ONLN)
    ((ncpu >= 2)) || die "need at least 2 CPUs, have $ncpu"
    CLK_TCK=$(getconf CLK_TCK)
}

# ---------------------------------------------------------------- processes
TMP=""
PIDS=()
NOISY=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        # nginx master exits after its workers; give everything a moment.
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    [[ -n $TMP && -d $TMP ]] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stop_pid() {
    local pid=$1 keep=() p
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# A port nobody listens on: connecting to it is refused. Ports are taken from
# a range below the kernel's ephemeral range; a server that still fails to
# bind is caught by wait_ready (it exits).
USED_PORTS=" "
free_port() {
    local p
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 10000))
        [[ $USED_PORTS == *" $p "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            USED_PORTS+="$p "
            echo "$p"
            return
        fi
    done
    die "no free port found"
}

# One HTTP/1.1 GET over bash's /dev/tcp; prints the status code.
http_status() {
    local port=$1 line
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$PATH_UNDER_TEST" >&3
    IFS= read -r -t 5 line <&3 || line=""
    exec 3<&- 3>&-
    line=${line%$'\r'}
    echo "${line#* }" | cut -d' ' -f1
}

wait_ready() { # pid port name [tenths of a second, default 100]
    local pid=$1 port=$2 name=$3 code
    for _ in $(seq "${4:-100}"); do
        kill -0 "$pid" 2>/dev/null || die "$name exited at start"
        code=$(http_status "$port" 2>/dev/null || true)
        if [[ $code == 200 ]]; then return 0; fi
        sleep 0.1
    done
    die "$name did not answer 200 on 127.0.0.1:$port (last status: ${code:-none})"
}

# "utime stime" in clock ticks of a process (all its threads) plus its
# children (nginx master + worker).
proc_ticks() {
    local root=$1 utime=0 stime=0 f stat rest ppid pid fields
    for f in /proc/[0-9]*/stat; do
        { stat=$(<"$f"); } 2>/dev/null || continue   # the process may be gone
        pid=${stat%% *}
        rest=${stat##*) }            # fields from 3 (state) on
        read -r -a fields <<<"$rest"
        ppid=${fields[1]}
        if [[ $pid == "$root" || $ppid == "$root" ]]; then
            utime=$((utime + fields[11]))   # field 14
            stime=$((stime + fields[12]))   # field 15
        fi
    done
    echo "$utime $stime"
}

# busy and total jiffies of one CPU from /proc/stat
cpu_jiffies() {
    local cpu=$1 name user nice system idle iowait irq softirq steal rest
    while read -r name user nice system idle iowait irq softirq steal rest; do
        if [[ $name == "cpu$cpu" ]]; then
            echo "$((user + nice + system + irq + softirq + steal)) $((user + nice + system + idle + iowait + irq + softirq + steal))"
            return
        fi
    done </proc/stat
}

now_ns() { date +%s%N; }

# wrk latency like 812.00us / 1.23ms / 1.02s -> milliseconds
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else printf "%s", v }'
}

# ---------------------------------------------------------------- configs
nginx_common() { # prefix
    cat <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; multi_accept on; }
EOF
}

nginx_temp_paths() { # prefix
    cat <<EOF
    client_body_temp_path $1/client_body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
EOF
}

write_upstream_conf() { # dir port
    mkdir -p "$1"
    {
        nginx_common "$1"
        echo "http {"
        nginx_temp_paths "$1"
        cat <<EOF
    access_log off;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$2 backlog=4096;
        location / { return 200 "ok"; }
    }
}
EOF
    } >"$1/nginx.conf"
}

write_proxy_conf() { # dir port upstream_port [fwd]
    mkdir -p "$1"
    local extra=""
    # The same forwarding headers the gateway adds to every upstream request.
    if [[ ${4:-} == fwd ]]; then extra='
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header Forwarded "for=$remote_addr;proto=$scheme;host=\"$host\"";'
    fi

    {
        nginx_common "$1"
        echo "http {"
        nginx_temp_paths "$1"
        cat <<EOF
    access_log off;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    upstream origin {
        server 127.0.0.1:$3;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$2 backlog=4096;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";$extra
        }
    }
}
EOF
    } >"$1/nginx.conf"
}

write_gateway_conf() { # file port upstream_port
    cat >"$1" <<EOF
version: 1
server:
  listen: 127.0.0.1:$2
upstreams:
  origin:
    url: http://127.0.0.1:$3
routes:
  - name: all
    path: /{*rest}
    upstream: origin
# Like the nginx and HAProxy configs here: no access log.
access_log: { enabled: false }
EOF
}

# ---------------------------------------------------------------- runs
start_nginx() { # dir cpu -> sets STARTED_PID
    "$NGINX" -t -q -p "$1" -c "$1/nginx.conf" -e "$1/error.log" || die "bad nginx config $1/nginx.conf"
    taskset -c "$2" "$NGINX" -p "$1" -c "$1/nginx.conf" -e "$1/error.log" &
    STARTED_PID=$!
    PIDS+=("$STARTED_PID")
}

start_gateway() { # conf port cpu [wrapper...] -> sets STARTED_PID
    # GATEWAY_WORKERS=1: one tokio worker thread (the `local` binary reads it).
    GATEWAY_WORKERS=1 GATEWAY_LOG=${GATEWAY_LOG:-warn} LD_PRELOAD=${GATEWAY_PRELOAD:-} \
        taskset -c "$3" "${@:4}" "$GATEWAY_BIN" --config "$1" --listen "127.0.0.1:$2" --no-watch \
        >"$TMP/gateway.log" 2>&1 &
    STARTED_PID=$!
    PIDS+=("$STARTED_PID")
}

# wrk on the load CPU, in the background so that a signal ends the run at once.
run_wrk() {
    local pid rc=0
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" "$@" &
    pid=$!
    PIDS+=("$pid")
    wait "$pid" || rc=$?
    stop_pid "$pid"
    ((rc == 0)) || die "wrk failed (exit $rc)"
}

# Sets ROW to a markdown table row.
measure() { # name pid port
    local name=$1 pid=$2 port=$3 out t0 t1 u0 s0 u1 s1 j0 jt0 j1 jt1 l0 lt0 l1 lt1 wall
    local url="http://127.0.0.1:$port$PATH_UNDER_TEST"
    log "$name: warm-up $WARMUP"
    run_wrk -d"$WARMUP" "$url" >/dev/null
    log "$name: measuring $DURATION, $CONNECTIONS connections"
    read -r u0 s0 <<<"$(proc_ticks "$pid")"
    read -r j0 jt0 <<<"$(cpu_jiffies "$PROXY_CPU")"
    read -r l0 lt0 <<<"$(cpu_jiffies "$LOAD_CPU")"
    t0=$(now_ns)
    run_wrk -d"$DURATION" --latency "$url" >"$TMP/wrk-$name.txt"
    t1=$(now_ns)
    read -r j1 jt1 <<<"$(cpu_jiffies "$PROXY_CPU")"
    read -r l1 lt1 <<<"$(cpu_jiffies "$LOAD_CPU")"
    read -r u1 s1 <<<"$(proc_ticks "$pid")"
    out=$(<"$TMP/wrk-$name.txt")
    printf '%s\n' "$out" | sed 's/^/    /' >&2

    local rps p50 p99 total errors non2xx
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
    total=$(awk '/requests in/ {print $1}' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
    errors=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' <<<"$out")
    errors=$((${errors:-0} + ${non2xx:-0}))
    [[ -n $total && $total -gt 0 ]] || die "$name: wrk made no requests"

    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    ROW=$(awk -v name="$name" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v total="$total" \
        -v errors="$errors" -v ut="$((u1 - u0))" -v st="$((s1 - s0))" -v hz="$CLK_TCK" -v wall="$wall" \
        -v jb="$((j1 - j0))" -v jt="$((jt1 - jt0))" -v lb="$((l1 - l0))" -v lt="$((lt1 - lt0))" 'BEGIN {
            cpu = (ut + st) / hz
            printf "| %s | %.0f | %.3f | %.3f | %.2f | %.2f + %.2f | %.0f%% | %.0f%% | %.0f%% | %d | %d |",
                name, rps, p50, p99, cpu * 1e6 / total, ut / hz * 1e6 / total, st / hz * 1e6 / total,
                100 * cpu / wall,
                (jt > 0 ? 100 * jb / jt : 0), (lt > 0 ? 100 * lb / lt : 0), total, errors }')
    # CPU 0 busier than the proxy alone accounts for: something else ran there.
    if awk -v ut="$((u1 - u0 + s1 - s0))" -v hz="$CLK_TCK" -v wall="$wall" -v jb="$((j1 - j0))" -v jt="$((jt1 - jt0))" \
        'BEGIN { exit !(jt > 0 && 100 * jb / jt - 100 * ut / hz / wall > 10) }'; then
        NOISY+=("$name")
        log "warning: CPU $PROXY_CPU was busy with other work during the $name run; its numbers are not clean"
    fi
    M_RPS=$rps M_P99=$p99
    M_CPU=$(awk -v t="$((u1 - u0 + s1 - s0))" -v hz="$CLK_TCK" -v n="$total" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
    log "$ROW"
}

# The gateway under callgrind: warm-up, counters zeroed, the measured run,
# counters dumped; prints user instructions per request.
count_instructions() { # up_port
    local gw_port out dump total requests
    gw_port=$(free_port)
    out=$TMP/callgrind.out
    write_gateway_conf "$TMP/gateway.yaml" "$gw_port" "$1"
    start_gateway "$TMP/gateway.yaml" "$gw_port" "$PROXY_CPU" \
        valgrind --tool=callgrind "--callgrind-out-file=$out"
    local gw_pid=$STARTED_PID
    wait_ready "$gw_pid" "$gw_port" "gateway under callgrind" 1200
    local url="http://127.0.0.1:$gw_port$PATH_UNDER_TEST"
    log "gateway under callgrind: warm-up $WARMUP"
    run_wrk -d"$WARMUP" "$url" >/dev/null
    callgrind_control -z "$gw_pid" >/dev/null 2>&1 || die "callgrind_control -z failed"
    log "gateway under callgrind: measuring $DURATION, $CONNECTIONS connections"
    requests=$(run_wrk -d"$DURATION" "$url" | awk '/requests in/ {print $1}')
    [[ -n $requests && $requests -gt 0 ]] || die "wrk made no requests"
    callgrind_control -d "$gw_pid" >/dev/null 2>&1 || die "callgrind_control -d failed"
    dump=$(ls "$out".* 2>/dev/null | head -n 1)
    [[ -n $dump ]] || die "no callgrind dump"
    total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    mkdir -p "$RESULTS_DIR/tmp"
    cp "$dump" "$RESULTS_DIR/tmp/callgrind.out"
    stop_pid "$gw_pid"
    printf '%s: %d requests, %d user instructions per request\n' \
        "$(basename "$GATEWAY_BIN")" "$requests" "$((total / requests))"
}

main() {
    ensure_tools
    if [[ ${SKIP_BUILD:-0} != 1 ]]; then
        log "cargo build --release -p local"
        (cd "$ROOT" && cargo build --release -p local)
    fi
    [[ -x $GATEWAY_BIN ]] || die "no gateway binary at $GATEWAY_BIN"

    TMP=$(mktemp -d /tmp/gateway-bench.XXXXXX)
    chmod 755 "$TMP"   # nginx workers run unprivileged

    local up_port px_port gw_port
    up_port=$(free_port)
    write_upstream_conf "$TMP/upstream" "$up_port"
    start_nginx "$TMP/upstream" "$LOAD_CPU"
    local up_pid=$STARTED_PID
    wait_ready "$up_pid" "$up_port" "upstream nginx"
    log "upstream nginx on 127.0.0.1:$up_port (CPU $LOAD_CPU)"
    if [[ $CALLGRIND == 1 ]]; then
        count_instructions "$up_port"
        return
    fi

    local rows=() ratios=() r
    for ((r = 1; r <= ROUNDS; r++)); do
        local suffix=""
        ((ROUNDS > 1)) && suffix=" #$r"

        px_port=$(free_port)
        write_proxy_conf "$TMP/proxy" "$px_port" "$up_port"
        start_nginx "$TMP/proxy" "$PROXY_CPU"
        local px_pid=$STARTED_PID
        wait_ready "$px_pid" "$px_port" "proxy nginx"
        measure "nginx$suffix" "$px_pid" "$px_port"
        rows+=("$ROW")
        local n_rps=$M_RPS n_p99=$M_P99 n_cpu=$M_CPU
        stop_pid "$px_pid"

        if [[ ${NGINX_FWD:-0} == 1 ]]; then
            px_port=$(free_port)
            write_proxy_conf "$TMP/proxy-fwd" "$px_port" "$up_port" fwd
            start_nginx "$TMP/proxy-fwd" "$PROXY_CPU"
            px_pid=$STARTED_PID
            wait_ready "$px_pid" "$px_port" "proxy nginx (fwd)"
            measure "nginx+fwd$suffix" "$px_pid" "$px_port"
            rows+=("$ROW")
            stop_pid "$px_pid"
        fi

        gw_port=$(free_port)
        write_gateway_conf "$TMP/gateway.yaml" "$gw_port" "$up_port"
        start_gateway "$TMP/gateway.yaml" "$gw_port" "$PROXY_CPU"
        local gw_pid=$STARTED_PID
        wait_ready "$gw_pid" "$gw_port" "gateway"
        measure "gateway$suffix" "$gw_pid" "$gw_port"
        rows+=("$ROW")
        ratios+=("$(awk -v s="$suffix" -v nr="$n_rps" -v np="$n_p99" -v nc="$n_cpu" \
            -v gr="$M_RPS" -v gp="$M_P99" -v gc="$M_CPU" 'BEGIN {
                printf "- gateway / nginx%s: throughput %.2fx (target >= 0.8x), p99 %.2fx (target <= 1.5x), CPU per request %.2fx (%s vs %s us)",
                    s, gr / nr, gp / np, gc / nc, gc, nc }')")
        stop_pid "$gw_pid"
    done

    mkdir -p "$RESULTS_DIR"
    local cpu_model
    cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    {
        echo "# Pass-through proxy benchmark"
        echo
        echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(getconf _NPROCESSORS_ONLN) CPUs (${cpu_model:-unknown}), $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), wrk -t1 -c$CONNECTIONS -d$DURATION (warm-up $WARMUP), GET $PATH_UNDER_TEST -> upstream \`return 200 \"ok\"\`."
        echo "Proxy pinned to CPU $PROXY_CPU; upstream nginx and wrk share CPU $LOAD_CPU."
        echo
        echo "| proxy | req/s | p50 ms | p99 ms | proxy CPU us/req | user + sys us/req | proxy CPU share | CPU $PROXY_CPU busy | CPU $LOAD_CPU busy | requests | errors |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        printf '%s\n' "${rows[@]}"
        echo
        printf '%s\n' "${ratios[@]}"
        if ((${#NOISY[@]})); then
            echo
            echo "**Warning:** CPU $PROXY_CPU was busier than the proxy during: ${NOISY[*]}. Other processes competed for the core; rerun on an idle machine."
        fi
    } >"$RESULTS_DIR/latest.md"
    echo
    cat "$RESULTS_DIR/latest.md"
}

main "$@"
