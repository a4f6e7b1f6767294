package validate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

const (
	repoRoot = "../.."
	release  = "geotrack"
	relNS    = "geotrack"
)

var (
	chartDir  = filepath.Join(repoRoot, "charts", "geotrack")
	stackPath = filepath.Join(repoRoot, "stack.yml")
	platforms = []string{"knative", "kubernetes", "openfaas"}
)

func helmOrFail(t *testing.T) string {
	t.Helper()
	h, err := HelmBinary()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func loadStack(t *testing.T) *Stack {
	t.Helper()
	s, err := LoadStack(stackPath)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rendered caches one `helm template` per platform: rendering is the slow part.
var (
	renderMu sync.Mutex
	renders  = map[string][]Object{}
)

func render(t *testing.T, platform string) []Object {
	t.Helper()
	renderMu.Lock()
	defer renderMu.Unlock()
	if objs, ok := renders[platform]; ok {
		return objs
	}
	out, err := HelmTemplate(helmOrFail(t), chartDir, filepath.Join(chartDir, "ci", platform+"-values.yaml"), release, relNS)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := DecodeStream(out)
	if err != nil {
		t.Fatalf("%s render does not decode strictly:\n%v", platform, err)
	}
	renders[platform] = objs
	return objs
}

func byKind[T any](objs []Object, kind string) map[string]*T {
	out := map[string]*T{}
	for _, o := range objs {
		if o.Kind == kind {
			out[o.Name] = o.Value.(*T)
		}
	}
	return out
}

func fnResource(fn string) string { return release + "-" + fn }

func TestHelmLintStrict(t *testing.T) {
	helm := helmOrFail(t)
	for _, p := range platforms {
		t.Run(p, func(t *testing.T) {
			if out, err := HelmLint(helm, chartDir, filepath.Join(chartDir, "ci", p+"-values.yaml")); err != nil {
				t.Fatalf("helm lint --strict: %v\n%s", err, out)
			}
		})
	}
}

func TestRenderDecodesStrictly(t *testing.T) {
	wantKinds := map[string][]string{
		"knative":    {"Service", "Broker", "Trigger", "SinkBinding", "PingSource", "NetworkPolicy", "ServiceAccount", "Pod"},
		"kubernetes": {"Deployment", "Service", "HorizontalPodAutoscaler", "CronJob", "StatefulSet", "NetworkPolicy", "Pod"},
		"openfaas":   {"Function", "StatefulSet", "Service", "NetworkPolicy", "Pod"},
	}
	for _, p := range platforms {
		t.Run(p, func(t *testing.T) {
			objs := render(t, p)
			kinds := map[string]bool{}
			for _, o := range objs {
				kinds[o.Kind] = true
				if o.Namespace == "" {
					t.Errorf("%s %s has no namespace", o.Kind, o.Name)
				}
			}
			for _, k := range wantKinds[p] {
				if !kinds[k] {
					t.Errorf("render has no %s", k)
				}
			}
		})
	}
}

// TestKnativeWiring: every subscription in stack.yml has a Trigger on that
// type pointing at the function's Service, every Service gets the Broker as
// sink, and schedules become PingSources.
func TestKnativeWiring(t *testing.T) {
	stack := loadStack(t)
	objs := render(t, "knative")
	services := byKind[KnativeService](objs, "Service")
	triggers := byKind[Trigger](objs, "Trigger")
	bindings := byKind[SinkBinding](objs, "SinkBinding")
	pings := byKind[PingSource](objs, "PingSource")
	brokers := byKind[Broker](objs, "Broker")
	if len(brokers) != 1 {
		t.Fatalf("want one Broker, got %d", len(brokers))
	}
	var brokerName string
	for n := range brokers {
		brokerName = n
	}

	type sub struct{ fn, typ string }
	gotSubs := map[sub]bool{}
	for name, tr := range triggers {
		if tr.Spec.Broker != brokerName {
			t.Errorf("Trigger %s uses broker %q, want %q", name, tr.Spec.Broker, brokerName)
		}
		if tr.Spec.Filter == nil || tr.Spec.Filter.Attributes["type"] == "" {
			t.Errorf("Trigger %s does not filter on type", name)
			continue
		}
		ref := tr.Spec.Subscriber.Ref
		if ref == nil || ref.Kind != "Service" || ref.APIVersion != "serving.knative.dev/v1" {
			t.Errorf("Trigger %s subscriber is not a Knative Service: %+v", name, tr.Spec.Subscriber)
			continue
		}
		gotSubs[sub{ref.Name, tr.Spec.Filter.Attributes["type"]}] = true
	}
	for _, fn := range stack.Names() {
		f := stack.Functions[fn]
		svcName := fnResource(fn)
		svc, ok := services[svcName]
		if !ok {
			t.Errorf("%s: no Knative Service %s", fn, svcName)
			continue
		}
		for _, typ := range f.Subscriptions() {
			if !gotSubs[sub{svcName, typ}] {
				t.Errorf("%s subscribes to %s in stack.yml but no Trigger routes it to %s", fn, typ, svcName)
			}
			delete(gotSubs, sub{svcName, typ})
		}
		bound := false
		for _, b := range bindings {
			s := b.Spec.Subject
			if s.Kind == "Service" && s.APIVersion == "serving.knative.dev/v1" && s.Name == svcName &&
				b.Spec.Sink.Ref != nil && b.Spec.Sink.Ref.Kind == "Broker" && b.Spec.Sink.Ref.Name == brokerName {
				bound = true
			}
		}
		if !bound {
			t.Errorf("%s: no SinkBinding gives Service %s the Broker as K_SINK", fn, svcName)
		}
		if sched := f.Schedule(); sched != "" {
			ps, ok := pings[svcName]
			if !ok || ps.Spec.Schedule != sched || ps.Spec.Sink.Ref == nil || ps.Spec.Sink.Ref.Name != svcName {
				t.Errorf("%s: want a PingSource on %q sinking to %s, got %+v", fn, sched, svcName, ps)
			}
		}
		checkKnativeService(t, fn, f, svc)
	}
	for s := range gotSubs {
		t.Errorf("Trigger for %s on %s has no matching subscription in stack.yml", s.fn, s.typ)
	}
}

func checkKnativeService(t *testing.T, fn string, f StackFunction, svc *KnativeService) {
	t.Helper()
	ann := svc.Spec.Template.Metadata.Annotations
	wantMin := f.Labels["com.openfaas.scale.min"]
	if f.Labels["com.openfaas.scale.zero"] == "true" {
		wantMin = "0"
	}
	if got := ann["autoscaling.knative.dev/min-scale"]; got != wantMin {
		t.Errorf("%s: min-scale %q, want %q", fn, got, wantMin)
	}
	if got := ann["autoscaling.knative.dev/max-scale"]; got != f.Labels["com.openfaas.scale.max"] {
		t.Errorf("%s: max-scale %q, want %q", fn, got, f.Labels["com.openfaas.scale.max"])
	}
	if svc.Spec.Template.Spec.ContainerConcurrency == nil {
		t.Errorf("%s: no containerConcurrency", fn)
	}
	cs := svc.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%s: want 1 container, got %d", fn, len(cs))
	}
	for _, e := range cs[0].Env {
		if e.Name == "PORT" || e.Name == "K_SINK" {
			t.Errorf("%s: sets %s, which Knative owns", fn, e.Name)
		}
	}
	checkContainer(t, fn, cs[0], false)
}

// checkContainer holds what every function container must have.
func checkContainer(t *testing.T, fn string, c corev1.Container, wantPort bool) {
	t.Helper()
	if !strings.HasSuffix(c.Image, "/"+fn+":ci") {
		t.Errorf("%s: image %q is not <registry>/%s:<tag>", fn, c.Image, fn)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/_/ready" {
		t.Errorf("%s: readiness probe is not GET /_/ready", fn)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/_/health" {
		t.Errorf("%s: liveness probe is not GET /_/health", fn)
	}
	if wantPort && (c.ReadinessProbe.HTTPGet.Port.String() != "http") {
		t.Errorf("%s: readiness probe port %s", fn, c.ReadinessProbe.HTTPGet.Port.String())
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: container securityContext is not hardened: %+v", fn, sc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: missing cpu request or memory limit", fn)
	}
}

func TestKubernetesRender(t *testing.T) {
	stack := loadStack(t)
	objs := render(t, "kubernetes")
	deps := byKind[appsv1.Deployment](objs, "Deployment")
	svcs := byKind[corev1.Service](objs, "Service")
	hpas := byKind[autoscalingv2.HorizontalPodAutoscaler](objs, "HorizontalPodAutoscaler")
	crons := byKind[batchv1.CronJob](objs, "CronJob")
	for _, fn := range stack.Names() {
		f := stack.Functions[fn]
		name := fnResource(fn)
		d, ok := deps[name]
		if !ok {
			t.Errorf("%s: no Deployment", fn)
			continue
		}
		if _, ok := svcs[name]; !ok {
			t.Errorf("%s: no Service", fn)
		}
		checkContainer(t, fn, d.Spec.Template.Spec.Containers[0], true)
		for _, sec := range f.Secrets {
			if !mountsSecret(d.Spec.Template.Spec, sec) {
				t.Errorf("%s: secret %s is not mounted at /var/openfaas/secrets", fn, sec)
			}
		}
		if h, ok := hpas[name]; ok {
			if h.Spec.ScaleTargetRef.Name != name || h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 {
				t.Errorf("%s: HPA targets %q min %v", fn, h.Spec.ScaleTargetRef.Name, h.Spec.MinReplicas)
			}
		} else if f.Labels["com.openfaas.scale.max"] != f.Labels["com.openfaas.scale.min"] {
			t.Errorf("%s: scales %s..%s but has no HPA", fn, f.Labels["com.openfaas.scale.min"], f.Labels["com.openfaas.scale.max"])
		}
		cj, scheduled := crons[name]
		if scheduled != (f.Schedule() != "") {
			t.Errorf("%s: CronJob present=%v, schedule %q", fn, scheduled, f.Schedule())
		}
		if scheduled {
			if cj.Spec.Schedule != f.Schedule() {
				t.Errorf("%s: CronJob schedule %q, want %q", fn, cj.Spec.Schedule, f.Schedule())
			}
			cmd := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Command
			if len(cmd) != 3 || cmd[0] != "/geotrack" || cmd[1] != "invoke" || !strings.Contains(cmd[2], "//"+name+".") {
				t.Errorf("%s: CronJob command %v is not `/geotrack invoke http://%s...`", fn, cmd, name)
			}
		}
	}
}

// TestHelmTestPod: `helm test` probes /_/ready of every function with the
// geotrack image's probe subcommand, on every platform.
func TestHelmTestPod(t *testing.T) {
	stack := loadStack(t)
	for _, p := range platforms {
		t.Run(p, func(t *testing.T) {
			pods := byKind[corev1.Pod](render(t, p), "Pod")
			pod, ok := pods[release+"-test-ready"]
			if !ok {
				t.Fatal("no helm test Pod")
			}
			if pod.Annotations["helm.sh/hook"] != "test" {
				t.Errorf("Pod is not a helm test hook: %v", pod.Annotations)
			}
			probed := map[string]bool{}
			for _, c := range pod.Spec.Containers {
				n := len(c.Command)
				if n < 3 || c.Command[0] != "/geotrack" || c.Command[1] != "probe" || !strings.HasSuffix(c.Command[n-1], "/_/ready") {
					t.Errorf("container %s: command %v is not `/geotrack probe <url>/_/ready`", c.Name, c.Command)
					continue
				}
				probed[c.Command[n-1]] = true
			}
			for _, fn := range stack.Names() {
				found := false
				for u := range probed {
					if strings.Contains(u, fn+"/_/ready") || strings.Contains(u, fn+".") {
						found = true
					}
				}
				if !found {
					t.Errorf("no test container probes %s (probed %v)", fn, probed)
				}
			}
		})
	}
}

func mountsSecret(spec corev1.PodSpec, secret string) bool {
	vol := ""
	for _, v := range spec.Volumes {
		if v.Secret == nil {
			continue
		}
		for _, it := range v.Secret.Items {
			if it.Key == secret && it.Path == secret {
				vol = v.Name
			}
		}
	}
	for _, m := range spec.Containers[0].VolumeMounts {
		if vol != "" && m.Name == vol && m.MountPath == "/var/openfaas/secrets" {
			return true
		}
	}
	return false
}

// TestOpenFaaSRender: the Function resources carry what stack.yml gives
// faas-cli, so operator users and faas-cli users get the same deployment.
func TestOpenFaaSRender(t *testing.T) {
	stack := loadStack(t)
	fns := byKind[OpenFaaSFunction](render(t, "openfaas"), "Function")
	for _, name := range stack.Names() {
		f := stack.Functions[name]
		got, ok := fns[name]
		if !ok {
			t.Errorf("%s: no openfaas.com/v1 Function", name)
			continue
		}
		if got.Metadata.Namespace != "openfaas-fn" {
			t.Errorf("%s: namespace %q", name, got.Metadata.Namespace)
		}
		if got.Spec.Annotations["topic"] != f.Annotations["topic"] || got.Spec.Annotations["schedule"] != f.Annotations["schedule"] {
			t.Errorf("%s: topic/schedule %q/%q, stack.yml %q/%q", name,
				got.Spec.Annotations["topic"], got.Spec.Annotations["schedule"], f.Annotations["topic"], f.Annotations["schedule"])
		}
		for _, l := range []string{"com.openfaas.scale.min", "com.openfaas.scale.max", "com.openfaas.scale.zero"} {
			if got.Spec.Labels[l] != f.Labels[l] {
				t.Errorf("%s: label %s=%q, stack.yml %q", name, l, got.Spec.Labels[l], f.Labels[l])
			}
		}
		if !slices.Equal(got.Spec.Secrets, f.Secrets) {
			t.Errorf("%s: secrets %v, stack.yml %v", name, got.Spec.Secrets, f.Secrets)
		}
		if !got.Spec.ReadOnlyRootFilesystem {
			t.Errorf("%s: readOnlyRootFilesystem is off", name)
		}
		for k := range f.Environment {
			if _, ok := got.Spec.Environment[k]; !ok {
				t.Errorf("%s: env %s from stack.yml missing", name, k)
			}
		}
	}
	if len(fns) != len(stack.Functions) {
		t.Errorf("%d Functions rendered, stack.yml has %d", len(fns), len(stack.Functions))
	}
}

// TestValuesInStepWithStack: the chart's functions block is what
// `go run ./cmd/genvalues` generates from stack.yml.
func TestValuesInStepWithStack(t *testing.T) {
	stack := loadStack(t)
	block, err := GeneratedBlock(stack)
	if err != nil {
		t.Fatal(err)
	}
	valuesPath := filepath.Join(chartDir, "values.yaml")
	values, err := os.ReadFile(valuesPath)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReplaceGenerated(values, block)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(values, want) {
		t.Fatalf("%s is out of step with stack.yml: run `cd deploy/validate && go run ./cmd/genvalues`", valuesPath)
	}
}

// TestK3sHelmChartExample decodes the example HelmChart and renders the chart
// with its valuesContent, so the example cannot rot.
func TestK3sHelmChartExample(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "examples", "k3s-helmchart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := DecodeStream(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Kind != "HelmChart" {
		t.Fatalf("want one HelmChart, got %+v", objs)
	}
	hc := objs[0].Value.(*HelmChart)
	if !strings.HasSuffix(hc.Spec.Chart, "/geotrack") || hc.Spec.TargetNamespace == "" || hc.Spec.ValuesContent == "" {
		t.Fatalf("HelmChart spec incomplete: %+v", hc.Spec)
	}
	values := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(values, []byte(hc.Spec.ValuesContent), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := HelmTemplate(helmOrFail(t), chartDir, values, "geotrack", hc.Spec.TargetNamespace)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeStream(out); err != nil {
		t.Fatalf("chart rendered with the example's values does not decode: %v", err)
	}
}

// TestEdgeK3sManifestsDecodeStrictly decodes every YAML document under edge-k3s/.
func TestEdgeK3sManifestsDecodeStrictly(t *testing.T) {
	root := filepath.Join(repoRoot, "edge-k3s")
	var files []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk edge-k3s: %v", err)
	}
	if len(files) == 0 {
		t.Fatal("edge-k3s/ has no YAML files")
	}
	for _, f := range files {
		t.Run(strings.TrimPrefix(f, root+string(filepath.Separator)), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := DecodeStream(raw)
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) == 0 {
				t.Fatal("no documents")
			}
		})
	}
}

// TestDecodeStrictRejects proves the decoder catches what it claims to.
func TestDecodeStrictRejects(t *testing.T) {
	const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: x
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: c
          image: i
%s`
	tests := []struct {
		name    string
		doc     string
		wantErr string
	}{
		{"valid deployment", fmt.Sprintf(deployment, ""), ""},
		{"unknown field", fmt.Sprintf(deployment, "          imagePullPolicyy: Always\n"), "unknown field"},
		{"wrong type", strings.Replace(fmt.Sprintf(deployment, ""), "spec:\n  selector", "spec:\n  replicas: two\n  selector", 1), "replicas"},
		{"case mismatch", fmt.Sprintf(deployment, "          Image: j\n"), "unknown field"},
		{"duplicate key", fmt.Sprintf(deployment, "          image: j\n"), "already set"},
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", "apiVersion/kind"},
		{"unknown kind", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n", "no schema"},
		{"knative unknown field", "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containerConcurrency: 1\n      containers: [{image: i}]\n  trafic: []\n", "unknown field"},
		{"trigger wrong type", "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: x}\nspec:\n  broker: default\n  filter: {attributes: {type: [a]}}\n  subscriber: {uri: http://x}\n", "attributes"},
		{"openfaas unknown field", "apiVersion: openfaas.com/v1\nkind: Function\nmetadata: {name: x}\nspec: {name: x, image: i, readonly_root_filesystem: true}\n", "unknown field"},
		{"kustomization unknown field", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresource: [a.yaml]\n", "unknown field"},
		{"kustomization valid", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\nimages: [{name: a, newTag: b}]\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeStrict([]byte(tt.doc))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("no error, want one mentioning %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestSplitDocuments(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"a: 1\n", 1},
		{"---\na: 1\n---\n# only a comment\n---\nb: 2\n", 2},
		{"# Source: x\n---\n---   # trailing\na: 1\n", 1},
		{"", 0},
	}
	for _, tt := range tests {
		if got := len(SplitDocuments([]byte(tt.in))); got != tt.want {
			t.Errorf("SplitDocuments(%q) = %d docs, want %d", tt.in, got, tt.want)
		}
	}
}

func TestExpandDefaults(t *testing.T) {
	tests := map[string]string{
		"${REGISTRY:-ghcr.io/geotrack}/x:${TAG:-latest}": "ghcr.io/geotrack/x:latest",
		"${OPENFAAS_URL:-http://127.0.0.1:8080}":         "http://127.0.0.1:8080",
		"${UNSET}":                                       "",
		"${EMPTY:-}":                                     "",
		"plain":                                          "plain",
	}
	for in, want := range tests {
		if got := ExpandDefaults(in); got != want {
			t.Errorf("ExpandDefaults(%q) = %q, want %q", in, got, want)
		}
	}
}
