// Package platform runs geotrack on the real platforms it deploys to, as far
// as this machine allows without a registry or a cluster: a real
// kube-apiserver on etcd that must accept every rendered manifest, the real
// OpenFaaS gateway and faas-cli in front of a small test provider that runs
// functions as local processes, and Knative's func.
//
// It is a separate Go module, like deploy/validate, so its dependencies
// (faas-provider, the Kubernetes client) never reach geotrack's go.mod and
// `go test ./...` of the main module stays fast. The tools it drives are built
// once by scripts/build-platform-tools.sh into the Go bin directory; the
// tests fail, naming the script, when a tool is missing.
//
//	make test-platform
package platform
