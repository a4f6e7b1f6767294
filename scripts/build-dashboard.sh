#!/usr/bin/env bash
# build-dashboard.sh bundles the dashboard's front end (web/) with esbuild
# into functions/dashboard/dist, which is committed and embedded by go:embed
# so `go build` needs no npm. The packages come from the npm registry at the
# versions pinned in web/package-lock.json (npm ci); nothing is fetched at
# run time. With --check it builds into a temporary folder and fails when
# the committed bundle differs from what the sources build (make test runs
# this: edit web/src, run `make dashboard`, commit both).
set -euo pipefail
cd "$(dirname "$0")/../web"
if ! command -v npm >/dev/null; then
	echo "build-dashboard: npm is missing (Node.js 20+ with npm; Debian: apt-get install -y nodejs npm)" >&2
	exit 1
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
	npm ci --no-audit --no-fund --loglevel=error
fi
if [ "${1:-}" = "--check" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	OUT="$tmp" node build.mjs
	if ! diff -r "$tmp" ../functions/dashboard/dist >/dev/null; then
		diff -r "$tmp" ../functions/dashboard/dist | head -20 >&2 || true
		echo "build-dashboard: functions/dashboard/dist is stale: run make dashboard and commit it" >&2
		exit 1
	fi
	echo "build-dashboard: functions/dashboard/dist matches web/"
	exit 0
fi
node build.mjs
echo "build-dashboard: wrote functions/dashboard/dist"
