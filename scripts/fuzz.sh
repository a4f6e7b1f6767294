#!/usr/bin/env bash
# fuzz.sh DURATION: run every Fuzz target of the main module for DURATION each.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-20s}"
grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./deploy/' | while read -r f; do
	pkg="./$(dirname "${f#./}")"
	grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r fn; do
		echo "== $pkg $fn"
		go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$t" "$pkg"
	done
done
