#!/usr/bin/env bash
# Builds the real platform tools the platform tests drive, once, into the Go
# bin directory (where CI on this machine finds them again):
#   kube-apiserver, kubectl-geotrack,
#   kube-controller-manager,
#   kube-scheduler                    k8s.io/kubernetes $KUBE_VERSION
#   kwokctl, kwok                     sigs.k8s.io/kwok $KWOK_VERSION
#   openfaas-gateway                  github.com/openfaas/faas/gateway $GATEWAY_VERSION
#   faas-cli                          github.com/openfaas/faas-cli $FAAS_CLI_VERSION
#   func                              knative.dev/func $FUNC_VERSION
# The module proxy on this network refuses `@latest` and `@v/list` look-ups for
# many modules, so nothing uses `go install mod@version`: each tool is built
# from `go mod download` of an exact version, or through a small wrapper module
# that requires the exact version.
#
#   scripts/build-platform-tools.sh [tool...]   (default: all; a tool already
#                                               in the bin dir at the pinned
#                                               version is skipped)
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
GATEWAY_VERSION=${GATEWAY_VERSION:-v0.0.0-20260401140327-f4dc39f8d87b}
FAAS_CLI_VERSION=${FAAS_CLI_VERSION:-v0.0.0-20260724145813-c8191b71e7ed}
FUNC_VERSION=${FUNC_VERSION:-v0.44.0}
# Custom resource definitions the API server checks manifests against, from
# the upstream modules (proxy zips), with their licences:
#   OpenFaaS Function    github.com/openfaas/faas-netes artifacts/crds
#   Knative Serving      knative.dev/serving config/core/300-resources
#   Knative Eventing     knative.dev/eventing config/core/resources
FAAS_NETES_VERSION=${FAAS_NETES_VERSION:-v0.0.0-20260806150349-ea593783d35b}
KNATIVE_VERSION=${KNATIVE_VERSION:-v0.48.0}

GOBIN=$(go env GOPATH)/bin
mkdir -p "$GOBIN"
export GOFLAGS=-mod=mod
# Stamp files record which pinned version a cached binary was built from.
stamp_dir=$GOBIN/.geotrack-platform
mkdir -p "$stamp_dir"

log() { printf '%s build-platform-tools: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

cached() { # name version
	[[ -x $GOBIN/$1 && -f $stamp_dir/$1 && $(cat "$stamp_dir/$1") == "$2" ]]
}
record() { echo "$2" >"$stamp_dir/$1"; }

timed() { # name cmd...
	local name=$1 start
	shift
	start=$(date +%s)
	"$@"
	log "$name built in $(($(date +%s) - start)) s"
}

# module_dir MOD VERSION: prints a writable copy of the module's source.
# The proxy here answers 403 to the .info of some versions it serves the .zip
# of, so `go mod download` is tried first and the zip fetched directly after.
module_dir() {
	local dir tmp proxy
	tmp=$(mktemp -d)
	dir=$(go mod download -json "$1@$2" 2>/dev/null | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	if [[ -n $dir ]]; then
		cp -r "$dir/." "$tmp/"
	else
		proxy=$(go env GOPROXY)
		proxy=${proxy%%,*}
		curl -fsSL -o "$tmp.zip" "$proxy/$1/@v/$2.zip" || { log "cannot download $1@$2"; return 1; }
		(cd "$tmp" && unzip -q "$tmp.zip" && shopt -s dotglob && mv "$1@$2"/* . && rm -rf "${1%%/*}")
		rm -f "$tmp.zip"
	fi
	chmod -R u+w "$tmp"
	echo "$tmp"
}

# kube_wrapper prints a wrapper module that builds k8s.io/kubernetes
# $KUBE_VERSION commands: k8s.io/kubernetes replaces every k8s.io/* staging
# module with a local path, which `go install` rejects; the wrapper keeps its
# requirements but points the replacements at the published staging modules.
kube_wrapper() {
	local work kdir staging_version=v0.${KUBE_VERSION#v1.}
	work=$(mktemp -d)
	kdir=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	sed -e 's#^module k8s.io/kubernetes#module geotrack.local/kubetools#' \
		-e "s#=> \./staging/src/\(k8s.io/[a-z0-9-]*\)\$#=> \1 $staging_version#" \
		"$kdir/go.mod" >"$work/go.mod"
	printf '\nrequire k8s.io/kubernetes %s\n' "$KUBE_VERSION" >>"$work/go.mod"
	cat >"$work/tools.go" <<GO
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
	(cd "$work" && go mod tidy >&2)
	echo "$work"
}

# build_kube_cmds NAME=PKG...: builds each k8s.io/kubernetes command,
# stamped with the version so kubectl and kwok accept the server.
build_kube_cmds() {
	local todo=() pair
	for pair in "$@"; do cached "${pair%%=*}" "$KUBE_VERSION" || todo+=("$pair"); done
	[[ ${#todo[@]} -gt 0 ]] || return 0
	local minor=${KUBE_VERSION#v1.} work ld
	minor=${minor%%.*}
	ld="-s -w"
	for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld="$ld -X $v.gitVersion=$KUBE_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
	done
	work=$(kube_wrapper)
	for pair in "${todo[@]}"; do
		(cd "$work" && timed "${pair%%=*}" go build -trimpath -ldflags "$ld" -o "$GOBIN/${pair%%=*}" "${pair#*=}")
		record "${pair%%=*}" "$KUBE_VERSION"
	done
	rm -rf "$work"
}

# kube: what the API server checks need; kube-control: what kwok's cluster
# adds (scheduling, Deployments, PV binding).
build_kube() {
	build_kube_cmds kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver kubectl-geotrack=k8s.io/kubernetes/cmd/kubectl
}

build_kube_control() {
	build_kube_cmds kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
		kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler
}

# build_module NAME MOD VERSION PKG [ldflags]: go build PKG inside a copy of
# MOD@VERSION, with the module's own go.mod and go.sum (or vendor folder).
build_module() {
	local name=$1 mod=$2 version=$3 pkg=$4 ldflags=${5:-} dir
	cached "$name" "$version" && return
	dir=$(module_dir "$mod" "$version")
	(
		cd "$dir"
		local flags=()
		[[ -d vendor ]] && flags=(-mod=vendor)
		# static: the gateway runs in a scratch container
		CGO_ENABLED=0 timed "$name" go build "${flags[@]}" -trimpath -ldflags "-s -w $ldflags" -o "$GOBIN/$name" "$pkg"
	)
	record "$name" "$version"
	rm -rf "$dir"
}

build_gateway() {
	build_module openfaas-gateway github.com/openfaas/faas/gateway "$GATEWAY_VERSION" .
}

build_faas_cli() {
	build_module faas-cli github.com/openfaas/faas-cli "$FAAS_CLI_VERSION" . \
		"-X github.com/openfaas/faas-cli/version.Version=$FAAS_CLI_VERSION"
}

build_kwok() {
	build_module kwokctl sigs.k8s.io/kwok "$KWOK_VERSION" ./cmd/kwokctl \
		"-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
	build_module kwok sigs.k8s.io/kwok "$KWOK_VERSION" ./cmd/kwok \
		"-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
}

build_func() {
	build_module func knative.dev/func "$FUNC_VERSION" ./cmd/func
}

# build_crds copies the CRDs into $GOBIN/.geotrack-platform/crds/<source>/.
build_crds() {
	local key="$FAAS_NETES_VERSION $KNATIVE_VERSION" dest=$stamp_dir/crds dir
	[[ -f $stamp_dir/crds.version && $(cat "$stamp_dir/crds.version") == "$key" ]] && return
	rm -rf "$dest"
	mkdir -p "$dest/openfaas" "$dest/knative-serving" "$dest/knative-eventing"
	dir=$(module_dir github.com/openfaas/faas-netes "$FAAS_NETES_VERSION")
	cp "$dir/artifacts/crds/openfaas.com_functions.yaml" "$dir/LICENSE" "$dest/openfaas/"
	rm -rf "$dir"
	dir=$(module_dir knative.dev/serving "$KNATIVE_VERSION")
	cp "$dir"/config/core/300-resources/*.yaml "$dir/LICENSE" "$dest/knative-serving/"
	rm -rf "$dir"
	# eventing's checksum is missing from the checksum database
	dir=$(GONOSUMDB=knative.dev/eventing module_dir knative.dev/eventing "$KNATIVE_VERSION")
	cp "$dir"/config/core/resources/*.yaml "$dir/LICENSE" "$dest/knative-eventing/"
	rm -rf "$dir"
	echo "$key" >"$stamp_dir/crds.version"
	log "CRDs in $dest"
}

# Debian packages the platform tests use: etcd under kube-apiserver, unzip
# and curl for module zips.
install_debian() {
	command -v etcd >/dev/null && command -v unzip >/dev/null && command -v curl >/dev/null && return
	log "installing etcd-server unzip curl from Debian"
	DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server unzip curl >&2
}

main() {
	install_debian
	local tools=("$@")
	[[ ${#tools[@]} -gt 0 ]] || tools=(crds kube kube-control gateway faas-cli kwok func)
	for t in "${tools[@]}"; do "build_${t//-/_}"; done
}
main "$@"
