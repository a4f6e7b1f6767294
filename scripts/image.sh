#!/usr/bin/env bash
# Builds the geotrack function image with podman from the repository's
# Dockerfile, without pulling anything: the two base images the Dockerfile
# names are made locally first (see make_bases), then
#
#   podman build --pull=never --platform linux/$arch --build-arg FUNCTION=$fn
#
# tags localhost/geotrack/$fn:dev-$arch. Every function is the same binary, so
# FUNCTIONS defaults to one function; the e2e passes the function name as the
# serve argument anyway.
#
#   scripts/image.sh                 amd64 and arm64 images of $FUNCTIONS
#   ARCHES=amd64 scripts/image.sh    just amd64
set -euo pipefail
cd "$(dirname "$0")/.."

export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/scripts/containers.conf}
ARCHES=${ARCHES:-amd64 arm64}
FUNCTIONS=${FUNCTIONS:-ingest}
TAG=${TAG:-dev}
GO_VERSION=$(go env GOVERSION | sed -E 's/^go([0-9]+\.[0-9]+).*/\1/')
BUILDER_IMAGE=docker.io/library/golang:$GO_VERSION
RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

log() { printf '%s image: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

install_podman() {
	local cmd missing=
	for cmd in podman buildah runc busybox qemu-aarch64-static file; do
		command -v "$cmd" >/dev/null || missing+=" $cmd"
	done
	[[ -n $missing ]] || return 0
	log "installing podman and the rest from Debian (missing:$missing)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y podman buildah skopeo runc busybox-static qemu-user-static file >&2
}

# make_bases creates local stand-ins for the Dockerfile's two base images,
# since no registry is reachable:
#   golang:X.Y      scratch + busybox (a shell for RUN) + this host's Go tree
#                   + CA certificates (the build downloads modules)
#   distroless/static:nonroot  scratch + passwd/group with nonroot 65532
#                   + CA certificates + zoneinfo + /tmp, as distroless has.
# They are rebuilt only when missing.
make_bases() {
	local root
	if ! podman image exists "$BUILDER_IMAGE"; then
		log "making $BUILDER_IMAGE from the host's Go $(go env GOVERSION)"
		root=$(mktemp -d)
		mkdir -p "$root/bin" "$root/usr/local" "$root/etc/ssl/certs" "$root/tmp" "$root/root"
		chmod 1777 "$root/tmp"
		cp "$(command -v busybox)" "$root/bin/busybox"
		for applet in $("$root/bin/busybox" --list); do
			[[ $applet == busybox ]] || ln -sf busybox "$root/bin/$applet"
		done
		cp -a "$(go env GOROOT)" "$root/usr/local/go"
		cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
		echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
		echo 'root:x:0:' >"$root/etc/group"
		tar -C "$root" -c . | podman import \
			--change 'ENV PATH=/go/bin:/usr/local/go/bin:/bin' \
			--change 'ENV GOPATH=/go' --change 'ENV HOME=/root' \
			--change 'WORKDIR /go' - "$BUILDER_IMAGE" >/dev/null
		rm -rf "$root"
	fi
	if ! podman image exists "$RUNTIME_IMAGE"; then
		# One stand-in serves every architecture: it holds no executables,
		# and the image built on it is labelled with the target platform.
		log "making $RUNTIME_IMAGE"
		root=$(mktemp -d)
		mkdir -p "$root/etc/ssl/certs" "$root/usr/share" "$root/tmp" "$root/home/nonroot"
		chmod 1777 "$root/tmp"
		chown 65532:65532 "$root/home/nonroot"
		printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
		printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
		cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
		cp -a /usr/share/zoneinfo "$root/usr/share/zoneinfo"
		tar -C "$root" -c . | podman import --change 'USER 65532:65532' - "$RUNTIME_IMAGE" >/dev/null
		rm -rf "$root"
	fi
}

build() {
	local fn arch start
	for arch in $ARCHES; do
		for fn in $FUNCTIONS; do
			start=$(date +%s)
			# podman 4.3 leaves BUILDPLATFORM empty, which would make the
			# builder stage an emulated arm64 one; set, it also resolves the
			# runtime stage's base for the build platform (fine: it holds no
			# executables) while the image is labelled linux/$arch
			podman build --pull=never --platform "linux/$arch" \
				--build-arg "BUILDPLATFORM=linux/$(go env GOARCH)" \
				--build-arg "GO_VERSION=$GO_VERSION" --build-arg "FUNCTION=$fn" \
				-t "localhost/geotrack/$fn:$TAG-$arch" . >&2
			log "localhost/geotrack/$fn:$TAG-$arch built in $(($(date +%s) - start)) s," \
				"$(podman image inspect --format '{{.Size}}' "localhost/geotrack/$fn:$TAG-$arch") bytes"
		done
	done
}

install_podman
make_bases
build
