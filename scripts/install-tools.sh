#!/usr/bin/env bash
# install-tools.sh installs the command-line tools the deploy checks need:
# helm (chart render + lint), nats-server (event-bus tests) and minio (the
# archive tier's object store in tests, `make dev` and `geotrack bench
# archive`). Idempotent:
# a tool already on PATH or in $(go env GOPATH)/bin at the pinned version is
# left alone, so CI can call this on every run.
set -euo pipefail
# `install-tools.sh minio` installs only minio (what `make dev` needs).
only="${1:-all}"

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
NATS_SERVER_VERSION="${NATS_SERVER_VERSION:-v2.15.2}"
# Keep in step with localserver.MinIOVersion. MinIO is AGPL: built and run as
# a separate process only, never imported.
MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"

gobin="$(go env GOBIN)"
if [ -z "$gobin" ]; then
	gobin="$(go env GOPATH)/bin"
fi
export PATH="$gobin:$PATH"

# have prints the path of $1 when it is installed.
have() { command -v "$1" 2>/dev/null || true; }

# `go install` skips helm's Makefile, which stamps the release version and
# the Kubernetes version helm assumes for `helm template`/`helm lint` (without
# it helm claims Kubernetes v1.20). Stamp both the same way the Makefile does:
# major = client-go major + 1, minor = client-go minor (client-go v0.37 -> 1.37).
K8S_MINOR="${K8S_MINOR:-37}"
helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
for pkg in pkg/lint/rules pkg/chartutil; do
	helm_ldflags="$helm_ldflags -X helm.sh/helm/v3/${pkg}.k8sVersionMajor=1 -X helm.sh/helm/v3/${pkg}.k8sVersionMinor=${K8S_MINOR}"
done

# helm_ok: the helm at $1 is the pinned release and renders charts for a
# current Kubernetes (an unstamped `go install` build claims v1.20).
helm_ok() {
	"$1" version --template '{{.Version}}' 2>/dev/null | grep -q "^${HELM_VERSION}$" || return 1
	local probe
	probe="$(mktemp -d)"
	mkdir -p "$probe/c/templates"
	printf 'apiVersion: v2\nname: c\nversion: 0.0.1\n' >"$probe/c/Chart.yaml"
	printf 'minor: "{{ .Capabilities.KubeVersion.Minor }}"\n' >"$probe/c/templates/v.yaml"
	local minor
	minor="$("$1" template "$probe/c" 2>/dev/null | sed -n 's/^minor: "\([0-9]*\).*/\1/p')"
	rm -rf "$probe"
	[ -n "$minor" ] && [ "$minor" -ge 27 ]
}

helm_bin="$(have helm)"
if [ "$only" != all ]; then
	: # not asked for
elif [ -n "$helm_bin" ] && helm_ok "$helm_bin"; then
	echo "helm ${HELM_VERSION} already installed at $helm_bin"
else
	echo "installing helm ${HELM_VERSION} into $gobin"
	go install -trimpath -ldflags "$helm_ldflags" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
fi

nats_bin="$(have nats-server)"
if [ "$only" != all ]; then
	: # not asked for
elif [ -n "$nats_bin" ] && "$nats_bin" --version 2>/dev/null | grep -q "${NATS_SERVER_VERSION}"; then
	echo "nats-server ${NATS_SERVER_VERSION} already installed at $nats_bin"
else
	echo "installing nats-server ${NATS_SERVER_VERSION} into $gobin"
	go install -trimpath "github.com/nats-io/nats-server/v2@${NATS_SERVER_VERSION}"
fi

# minio has no version flag that names the pseudo-version: the module path
# and version of the binary (go version -m) say what was built.
minio_bin="$(have minio)"
if [ -n "$minio_bin" ] && go version -m "$minio_bin" 2>/dev/null | grep -q "github.com/minio/minio[[:space:]]*${MINIO_VERSION}"; then
	echo "minio ${MINIO_VERSION} already installed at $minio_bin"
else
	echo "installing minio ${MINIO_VERSION} into $gobin (a few minutes the first time)"
	go install -trimpath "github.com/minio/minio@${MINIO_VERSION}"
fi

# edge-k3s/render.sh needs kustomize (built into kubectl); install the
# standalone one when neither is there.
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.5.0}"
if [ "$only" != all ]; then
	: # not asked for
elif [ -n "$(have kubectl)" ] || [ -n "$(have kustomize)" ]; then
	echo "kustomize available ($(have kubectl)$(have kustomize))"
else
	echo "installing kustomize ${KUSTOMIZE_VERSION} into $gobin"
	go install -trimpath "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"
fi
