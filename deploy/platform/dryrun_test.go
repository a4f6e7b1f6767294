package platform

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// crdDir is where scripts/build-platform-tools.sh puts the upstream CRDs.
func crdDir(t *testing.T, source string) string {
	t.Helper()
	dir := filepath.Join(goBin(t), ".geotrack-platform", "crds", source)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("%s missing: run scripts/build-platform-tools.sh crds", dir)
	}
	return dir
}

// installCRDs applies the OpenFaaS Function CRD and the Knative Serving and
// Eventing CRDs and waits until the server serves them.
func installCRDs(t *testing.T, s *apiServer) {
	t.Helper()
	for _, source := range []string{"openfaas", "knative-serving", "knative-eventing"} {
		files, err := filepath.Glob(filepath.Join(crdDir(t, source), "*.yaml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no CRDs for %s", source)
		}
		for _, f := range files {
			s.kubectl(t, nil, "apply", "--server-side", "-f", f)
		}
	}
	s.kubectl(t, nil, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
}

var namespaceLine = regexp.MustCompile(`(?m)^\s+namespace:\s*["']?([a-z0-9-]+)["']?\s*$`)
var namespaceObject = regexp.MustCompile(`(?m)^kind:\s*Namespace\s*$`)

// prepareNamespaces creates every namespace a manifest names (a server-side
// dry run does not create the Namespace objects in it) with the `default`
// ServiceAccount that, without controllers, nobody else creates.
func prepareNamespaces(t *testing.T, s *apiServer, manifest []byte, extra ...string) {
	t.Helper()
	names := slices.Clone(extra)
	for _, m := range namespaceLine.FindAllSubmatch(manifest, -1) {
		names = append(names, string(m[1]))
	}
	for _, doc := range strings.Split(string(manifest), "\n---") {
		if namespaceObject.MatchString(doc) {
			if m := regexp.MustCompile(`(?m)^  name:\s*(\S+)`).FindStringSubmatch(doc); m != nil {
				names = append(names, m[1])
			}
		}
	}
	slices.Sort(names)
	for _, ns := range slices.Compact(names) {
		if _, err := s.kubectlErr(nil, "get", "namespace", ns); err == nil {
			continue
		}
		s.kubectl(t, nil, "create", "namespace", ns)
		s.kubectl(t, nil, "-n", ns, "create", "serviceaccount", "default")
	}
}

// manifest is one artefact geotrack ships for a Kubernetes-based platform.
type manifest struct {
	name   string
	render func(t *testing.T) []byte
}

// helmRender renders the chart with a CI values file, with the in-chart
// Redis and MinIO switched on or off.
func helmRender(platform string, deps bool) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		chart := filepath.Join(repoRoot, "charts", "geotrack")
		return run(t, "", nil, tool(t, "helm"), "template", "geotrack", chart,
			"--namespace", "geotrack", "--values", filepath.Join(chart, "ci", platform+"-values.yaml"),
			"--set", fmt.Sprintf("redis.enabled=%t,minio.enabled=%t", deps, deps))
	}
}

func faasCLIGenerate(api string) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		return run(t, repoRoot, []string{"NO_COLOR=1"}, tool(t, "faas-cli"), "generate", "-f", "stack.yml", "--api="+api)
	}
}

func shippedManifests() []manifest {
	var ms []manifest
	for _, platform := range []string{"knative", "kubernetes", "openfaas"} {
		for _, deps := range []bool{false, true} {
			name := "chart/" + platform
			if deps {
				name += "+redis+minio"
			}
			ms = append(ms, manifest{name: name, render: helmRender(platform, deps)})
		}
	}
	// The archiver's optional CronJob (off in the CI values).
	for _, platform := range []string{"knative", "kubernetes"} {
		ms = append(ms, manifest{name: "chart/" + platform + "+archiver-cronjob", render: func(t *testing.T) []byte {
			chart := filepath.Join(repoRoot, "charts", "geotrack")
			return run(t, "", nil, tool(t, "helm"), "template", "geotrack", chart,
				"--namespace", "geotrack", "--values", filepath.Join(chart, "ci", platform+"-values.yaml"),
				"--set", "archiver.cronJob.enabled=true")
		}})
	}
	return append(ms,
		manifest{name: "edge-k3s/bundle", render: func(t *testing.T) []byte {
			data, err := os.ReadFile(filepath.Join(repoRoot, "edge-k3s", "bundle", "geotrack-edge.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			return data
		}},
		manifest{name: "faas-cli generate --api=openfaas.com/v1", render: faasCLIGenerate("openfaas.com/v1")},
		manifest{name: "faas-cli generate --api=serving.knative.dev/v1", render: faasCLIGenerate("serving.knative.dev/v1")},
	)
}

// TestServerAcceptsShippedManifests applies every rendered chart variant,
// the edge bundle and faas-cli's output for both APIs with
// `kubectl apply --dry-run=server` against a real API server that knows the
// upstream OpenFaaS and Knative CRDs: schema, defaulting and admission run
// as on a cluster, nothing is stored.
func TestServerAcceptsShippedManifests(t *testing.T) {
	s := startAPIServer(t)
	installCRDs(t, s)
	for _, m := range shippedManifests() {
		t.Run(m.name, func(t *testing.T) {
			data := m.render(t)
			prepareNamespaces(t, s, data)
			// objects that name no namespace go to "default"
			out := s.kubectl(t, data, "apply", "--dry-run=server", "-f", "-")
			created := strings.Count(string(out), "(server dry run)")
			if created == 0 {
				t.Fatalf("nothing applied:\n%s", out)
			}
			t.Logf("%d objects accepted", created)
		})
	}
}

// TestServerRejectsBrokenManifests proves the dry run can fail: each
// manifest is wrong in one way the server (not the client) must catch.
func TestServerRejectsBrokenManifests(t *testing.T) {
	s := startAPIServer(t)
	installCRDs(t, s)
	prepareNamespaces(t, s, nil, "geotrack", "openfaas-fn")
	cases := []struct {
		name, manifest, wantError string
	}{
		{"Deployment replicas not a number", `apiVersion: apps/v1
kind: Deployment
metadata: {name: ingest, namespace: geotrack}
spec:
  replicas: many
  selector: {matchLabels: {app: ingest}}
  template:
    metadata: {labels: {app: ingest}}
    spec: {containers: [{name: ingest, image: ghcr.io/geotrack/ingest:ci}]}
`, "replicas"},
		{"Deployment selector not matching its pods", `apiVersion: apps/v1
kind: Deployment
metadata: {name: ingest, namespace: geotrack}
spec:
  selector: {matchLabels: {app: ingest}}
  template:
    metadata: {labels: {app: position}}
    spec: {containers: [{name: ingest, image: ghcr.io/geotrack/ingest:ci}]}
`, "selector"},
		{"OpenFaaS Function without image", `apiVersion: openfaas.com/v1
kind: Function
metadata: {name: ingest, namespace: openfaas-fn}
spec: {name: ingest}
`, "image"},
		{"Knative Service with a string for an integer", `apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: ingest, namespace: geotrack}
spec:
  template:
    spec:
      containerConcurrency: lots
      containers: [{image: ghcr.io/geotrack/ingest:ci}]
`, "containerConcurrency"},
		{"Knative Trigger with a list for its broker", `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: ingest, namespace: geotrack}
spec:
  broker: [default]
  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: ingest}}
`, "spec.broker"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := s.kubectlErr([]byte(c.manifest), "apply", "--dry-run=server", "-f", "-")
			if err == nil {
				t.Fatalf("accepted:\n%s", out)
			}
			if !strings.Contains(string(out), c.wantError) {
				t.Fatalf("rejected without naming %q:\n%s", c.wantError, out)
			}
			t.Logf("rejected: %s", strings.TrimSpace(string(out)))
		})
	}
}
