# geotrack — the two commands a new machine needs:
#   make dev    installs what is missing, starts Redis, runs every function with a simulated fleet
#               (it builds bin/geotrack; `export PATH=$PWD/bin:$PATH` or `make install` puts it on PATH)
#   make test   runs every test (unit, integration, e2e with real Redis/NATS, manifest validation)
GO      ?= go
GOBIN   := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)

.PHONY: dev test test-dashboard dashboard test-go test-deploy test-platform test-container platform-tools image coldstart build install vet fmt bench fuzz tools

dev: ## run every function at http://127.0.0.1:8080/function/<name> with a simulated fleet
	./scripts/dev.sh

test: tools vet test-dashboard test-go test-deploy test-platform ## everything CI runs

tools: ## redis-server, chromium, helm and nats-server when missing
	./scripts/install-deps.sh
	./scripts/install-tools.sh

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

dashboard: ## rebuild the dashboard bundle (web/ → functions/dashboard/dist, committed) with esbuild from npm
	./scripts/build-dashboard.sh

test-dashboard: ## the committed dashboard bundle is what web/ builds (the browser test is in test-go: e2e)
	./scripts/build-dashboard.sh --check

test-go:
	$(GO) test -count=1 -timeout 20m ./...

test-deploy: ## helm lint/template and strict decoding of every manifest
	cd deploy/validate && $(GO) test -count=1 -timeout 10m ./...
	bash edge-k3s/render.sh --check

# The real platforms (see DEPLOY.md, "Tested on real platforms"): podman
# images, a real kube-apiserver, the real OpenFaaS gateway. Tools are built
# once into $(GOBIN) and reused by every later run.
platform-tools: ## kube-apiserver, kubectl, the OpenFaaS gateway, faas-cli, CRDs (cached in GOBIN)
	./scripts/build-platform-tools.sh

image: ## the function image, amd64 and arm64, with podman from the Dockerfile (nothing pulled)
	./scripts/image.sh

test-container: ## the image's size and user, and e2e suites with every function in a container
	./scripts/container-e2e.sh

test-platform: platform-tools test-container ## manifests on a real API server, stack.yml through the real gateway
	cd deploy/platform && $(GO) vet ./... && $(GO) test -count=1 -timeout 20m ./...

coldstart: build image ## median start → first 200 on /_/ready, bare process vs podman run
	./scripts/coldstart.sh

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o bin/geotrack ./cmd/geotrack

install: ## geotrack into $(GOBIN), which is on PATH for most Go setups
	CGO_ENABLED=0 $(GO) install -trimpath -ldflags "-s -w" ./cmd/geotrack
	@echo "installed $(GOBIN)/geotrack"

bench: build ## benchmarks against real Redis; figures go to BENCHMARKS.md
	./bin/geotrack bench ingest
	./bin/geotrack bench edge

fuzz: ## run each fuzz target briefly
	./scripts/fuzz.sh 20s
