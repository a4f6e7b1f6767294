#!/usr/bin/env bash
# install-deps.sh installs the Debian packages geotrack's tests and dev runner
# start as real servers (redis-server, redis-cli, redis-benchmark), when missing.
set -euo pipefail
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null && command -v redis-benchmark >/dev/null; then
	exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server redis-tools >/dev/null
# The package starts a system service on 6379; geotrack's tests start their
# own servers on free ports and do not need it.
redis-server --version
