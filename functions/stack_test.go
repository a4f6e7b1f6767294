package functions_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kelseyhightower/envconfig"

	"github.com/geotrack/geotrack/functions"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/stack"
)

func loadStack(t *testing.T) stack.File {
	t.Helper()
	raw, err := os.ReadFile("../stack.yml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := stack.ParseStrict(raw)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// functionDirs are the function packages: directories under functions/ that
// hold Go code.
func functionDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "testdata" {
			continue
		}
		gofiles, _ := filepath.Glob(filepath.Join(e.Name(), "*.go"))
		if len(gofiles) > 0 {
			dirs = append(dirs, e.Name())
		}
	}
	return dirs
}

// envKeys lists the variables an envconfig struct reads, embedded and nested
// structs included, exactly as envconfig names them.
func envKeys(t *testing.T, cfg any) map[string]bool {
	t.Helper()
	var buf bytes.Buffer
	if err := envconfig.Usagef("", cfg, &buf, "{{range .}}{{.Key}}\n{{.Alt}}\n{{end}}"); err != nil {
		t.Fatalf("envconfig keys of %T: %v", cfg, err)
	}
	keys := map[string]bool{}
	for _, k := range strings.Fields(buf.String()) {
		keys[k] = true
	}
	return keys
}

func specByName() map[string]functions.Spec {
	m := map[string]functions.Spec{}
	for _, s := range functions.Pack() {
		m[s.Name] = s
	}
	return m
}

// TestStackEntriesMatchPack: one stack.yml entry per function package, one
// package per entry, and both are exactly functions.Pack().
func TestStackEntriesMatchPack(t *testing.T) {
	sf := loadStack(t)
	var entries []string
	for name := range sf.Functions {
		entries = append(entries, name)
	}
	slices.Sort(entries)
	var pack []string
	for _, s := range functions.Pack() {
		pack = append(pack, s.Name)
	}
	slices.Sort(pack)
	dirs := functionDirs(t)
	if !slices.Equal(entries, dirs) {
		t.Errorf("stack.yml entries %v != function packages %v", entries, dirs)
	}
	if !slices.Equal(entries, pack) {
		t.Errorf("stack.yml entries %v != functions.Pack() %v", entries, pack)
	}
	if sf.Version != "1.0" || sf.Provider.Name != "openfaas" || sf.Provider.Gateway == "" {
		t.Errorf("stack header: version %q provider %q gateway %q", sf.Version, sf.Provider.Name, sf.Provider.Gateway)
	}
}

// TestStackEntries checks each entry against its Spec.
func TestStackEntries(t *testing.T) {
	sf := loadStack(t)
	specs := specByName()
	emitted := map[string]bool{
		// The pack's public entry point: devices, importers and edge
		// forwarders publish it from outside.
		events.TypeLocationReported: true,
	}
	for _, s := range functions.Pack() {
		for _, e := range s.Emits {
			emitted[e] = true
		}
	}
	runtimeKeys := map[string]bool{}
	for _, k := range httpkit.EnvVars() {
		runtimeKeys[k] = true
	}

	for name, f := range sf.Functions {
		t.Run(name, func(t *testing.T) {
			spec, ok := specs[name]
			if !ok {
				t.Fatalf("no Spec named %q in functions.Pack()", name)
			}
			if want := "ghcr.io/geotrack/" + name + ":latest"; f.Image != want {
				t.Errorf("image %q, want ${REGISTRY:-ghcr.io/geotrack}/%s:${TAG:-latest}", f.Image, name)
			}
			if f.Lang != "dockerfile" || f.Handler != "." || f.BuildArgs["FUNCTION"] != name || len(f.BuildArgs) != 1 {
				t.Errorf("build: lang %q handler %q build_args %v, want dockerfile . {FUNCTION: %s}", f.Lang, f.Handler, f.BuildArgs, name)
			}
			if !f.ReadOnlyRootFilesystem {
				t.Error("readonly_root_filesystem is not true")
			}
			if f.Requests == nil || f.Limits == nil || f.Requests.CPU == "" || f.Requests.Memory == "" || f.Limits.Memory == "" {
				t.Errorf("requests %+v limits %+v: want cpu+memory requests and a memory limit", f.Requests, f.Limits)
			}
			checkScaleLabels(t, f.Labels)

			cfgKeys := envKeys(t, spec.Config)
			for k := range f.Environment {
				if !cfgKeys[k] && !runtimeKeys[k] && !goRuntimeKeys[k] {
					t.Errorf("environment %s is read by neither %T nor httpkit.Env nor the Go runtime", k, spec.Config)
				}
			}

			var subs []string
			topics := list(f.Annotations["topic"])
			for _, topic := range topics {
				switch {
				case topic == stack.CronTopic:
					if len(topics) != 1 {
						t.Errorf("topic %q: cron-connector needs topic to be exactly %s", f.Annotations["topic"], stack.CronTopic)
					}
				case !emitted[topic]:
					t.Errorf("topic %s is not an event type any function emits", topic)
					subs = append(subs, topic)
				default:
					subs = append(subs, topic)
				}
			}
			for _, extra := range list(f.Annotations[stack.SubscribesAnnotation]) {
				if !emitted[extra] {
					t.Errorf("%s %s is not an event type any function emits", stack.SubscribesAnnotation, extra)
				}
				subs = append(subs, extra)
			}
			if got, want := sorted(subs), sorted(spec.Subscribes); !slices.Equal(got, want) {
				t.Errorf("subscriptions in stack.yml %v != Spec.Subscribes %v", got, want)
			}
			scheduled := slices.Contains(topics, stack.CronTopic)
			if sched := f.Annotations["schedule"]; scheduled != (spec.Schedule != "") || sched != spec.Schedule {
				t.Errorf("topic %q schedule %q, Spec.Schedule %q: a scheduled function needs topic %s and the same schedule",
					f.Annotations["topic"], sched, spec.Schedule, stack.CronTopic)
			}
			if got, want := list(f.Annotations[stack.EmitsAnnotation]), sorted(spec.Emits); !slices.Equal(got, want) {
				t.Errorf("%s %v != Spec.Emits %v", stack.EmitsAnnotation, got, want)
			}
			platforms := list(f.Platforms)
			if spec.EdgeSite != f.MultiArch() {
				t.Errorf("platforms %q, Spec.EdgeSite %v: what an edge site runs builds for linux/arm64 too", f.Platforms, spec.EdgeSite)
			}
			if spec.Edge != f.Edge() {
				t.Errorf("%s %q, Spec.Edge %v: edge placement comes from the annotation", stack.EdgeAnnotation, f.Annotations[stack.EdgeAnnotation], spec.Edge)
			}
			if len(platforms) > 0 && !slices.Contains(platforms, "linux/amd64") {
				t.Errorf("platforms %q lacks linux/amd64", f.Platforms)
			}
		})
	}
}

func checkScaleLabels(t *testing.T, labels map[string]string) {
	t.Helper()
	min, errMin := strconv.Atoi(labels["com.openfaas.scale.min"])
	max, errMax := strconv.Atoi(labels["com.openfaas.scale.max"])
	if errMin != nil || errMax != nil || min < 1 || max < min {
		t.Errorf("scale labels min %q max %q: want integers 1 <= min <= max",
			labels["com.openfaas.scale.min"], labels["com.openfaas.scale.max"])
	}
	if z, ok := labels["com.openfaas.scale.zero"]; ok && z != "true" && z != "false" {
		t.Errorf("com.openfaas.scale.zero %q is not true/false", z)
	}
}

// TestStackSecretsDocumented: every secret a function mounts is explained in
// DEPLOY.md, so an operator knows what to create.
func TestStackSecretsDocumented(t *testing.T) {
	sf := loadStack(t)
	doc, err := os.ReadFile("../DEPLOY.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range sf.Functions {
		for _, s := range f.Secrets {
			if !bytes.Contains(doc, []byte("`"+s+"`")) {
				t.Errorf("%s: secret %s is not documented in DEPLOY.md (as `%s`)", name, s, s)
			}
		}
	}
}

// goRuntimeKeys are read by the Go runtime itself (package runtime).
var goRuntimeKeys = map[string]bool{"GOMEMLIMIT": true, "GOGC": true, "GOMAXPROCS": true}
