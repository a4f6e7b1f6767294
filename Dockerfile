# syntax=docker/dockerfile:1
# One image recipe for every geotrack function: FUNCTION picks which one the
# image serves. The binary is the same for all of them (one `geotrack` pack),
# so images differ only in the FUNCTION env var and share every layer with
# each other in the registry.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg FUNCTION=ingest -t ghcr.io/geotrack/ingest:dev --push .
#   faas-cli publish -f stack.yml --platforms linux/amd64,linux/arm64

ARG GO_VERSION=1.26

# The builder runs on the build host's platform and cross-compiles, which is
# much faster than building under QEMU emulation for arm64.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
# Dependencies first so source edits do not invalidate the module cache layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w" -o /out/geotrack ./cmd/geotrack

# distroless/static: CA certificates and tzdata, no shell, no package manager;
# the :nonroot tag runs as uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
ARG FUNCTION
LABEL org.opencontainers.image.source="https://github.com/geotrack/geotrack" \
      org.opencontainers.image.description="geotrack function ${FUNCTION}"
COPY --from=build /out/geotrack /geotrack
# `geotrack serve` with no argument serves $FUNCTION; exec-form ENTRYPOINT has
# no shell to expand variables, so the function travels as an env var.
ENV FUNCTION=${FUNCTION} \
    PORT=8080
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/geotrack", "serve"]
