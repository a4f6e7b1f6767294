#!/usr/bin/env bash
# Cold start of a function: `geotrack serve` as a bare process and the image
# under `podman run`, alternated in one run against one Redis, median of
# RUNS. Figures go to BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/scripts/containers.conf}
RUNS=${RUNS:-9}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
redis_pid=$!
trap 'kill $redis_pid' EXIT
sleep 0.3
cd deploy/platform
go run ./cmd/coldstart -binary ../../bin/geotrack -image "localhost/geotrack/ingest:${TAG:-dev}-amd64" \
	-redis "redis://127.0.0.1:$port/0" -runs "$RUNS"
