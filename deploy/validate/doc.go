// Package validate checks geotrack's deployment artefacts: stack.yml, the Helm
// chart rendered for every platform, the edge-k3s manifests and the
// Dockerfile. It is a separate Go module so the heavy Kubernetes API modules
// never reach the runtime binaries.
//
// Every manifest is decoded strictly: unknown fields, wrong types and
// duplicate keys are errors, core kinds go into the k8s.io/api types and the
// custom resources into the small schemas kept in crds.go.
//
// Run the tests with -count=1: helm reads the chart in a subprocess, which go
// test's result cache does not see, so a cached PASS can be stale.
//
//	../../scripts/install-tools.sh && go test -count=1 ./...
package validate
