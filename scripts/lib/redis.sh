# Starts a throwaway redis-server on a free loopback port unless REDIS_URL is set.

start_redis_if_needed() {
  if [ -n "${REDIS_URL:-}" ]; then
    echo "using REDIS_URL from the environment"
    return 0
  fi
  local port dir
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  dir=$(mktemp -d)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  for _ in $(seq 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$port" ping >/dev/null
  export REDIS_URL="redis://127.0.0.1:$port/"
  REDIS_PIDFILE="$dir/redis.pid"
  trap 'kill "$(cat "$REDIS_PIDFILE" 2>/dev/null)" 2>/dev/null || true' EXIT
  echo "redis-server on 127.0.0.1:$port"
}
