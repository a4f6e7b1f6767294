#!/usr/bin/env bash
# dev.sh: one command from a fresh clone to a running pack. Installs
# redis-server if missing, starts one under .dev/redis if nothing answers at
# REDIS_URL, runs every function in one process and streams a simulated
# fleet into ingest. Ctrl-C stops everything. The JWT secret is kept in
# .dev/secret, so tokens survive restarts; extra arguments go to
# `geotrack dev` (e.g. ./scripts/dev.sh --verbose).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/install-tools.sh minio  # the archive tier's object store (built once, cached in GOPATH/bin)
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
mkdir -p bin
go build -o bin/geotrack ./cmd/geotrack
echo "built bin/geotrack; to run the README's geotrack commands from this folder: export PATH=\$PWD/bin:\$PATH"
exec ./bin/geotrack dev --start-redis --start-minio --simulate "${DEVICES:-25}" --rate "${RATE:-1}" "$@"
