#!/usr/bin/env bash
# install-deps.sh installs the Debian packages geotrack's tests and dev runner
# use, when missing: redis-server, redis-cli and redis-benchmark (started as
# real servers) and chromium (the dashboard's browser test drives Debian's
# headless Chromium with chromedp; nothing downloads a browser of its own).
set -euo pipefail
missing=()
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null || ! command -v redis-benchmark >/dev/null; then
	missing+=(redis-server redis-tools)
fi
if ! command -v chromium >/dev/null; then
	missing+=(chromium)
fi
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
# The redis package starts a system service on 6379; geotrack's tests start
# their own servers on free ports and do not need it.
redis-server --version
chromium --version 2>/dev/null || true
