package functions_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/geotrack/geotrack/functions"
	"github.com/geotrack/geotrack/internal/events"
)

// TestPackIsWellFormed: sorted unique names, each with a config and a
// constructor, and a new list on every call (nothing global to mutate).
func TestPackIsWellFormed(t *testing.T) {
	pack := functions.Pack()
	names := functions.Names()
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Fatalf("names %v are not sorted and unique", names)
	}
	for _, s := range pack {
		if s.Config == nil || s.Build == nil {
			t.Errorf("%s: Config %v, Build set %v", s.Name, s.Config, s.Build != nil)
		}
		if s.Edge && !s.EdgeSite {
			t.Errorf("%s: runs on edge nodes but is not part of the edge site", s.Name)
		}
	}
	pack[0].Name = "mutated"
	if functions.Pack()[0].Name == "mutated" {
		t.Fatal("Pack returns shared state")
	}
}

func TestLookup(t *testing.T) {
	for _, name := range functions.Names() {
		s, err := functions.Lookup(name)
		if err != nil || s.Name != name {
			t.Errorf("Lookup(%q) = %q, %v", name, s.Name, err)
		}
	}
	if _, err := functions.Lookup("nope"); err == nil {
		t.Error("Lookup of an unknown function did not fail")
	}
}

func TestSubscribers(t *testing.T) {
	cases := []struct {
		eventType string
		want      []string
	}{
		{events.TypeLocationReported, []string{"ingest"}},
		{events.TypeEdgeStored, []string{"forwarder"}},
		{events.TypeLocationUpdated, nil},
	}
	subs := functions.Subscribers()
	for _, tc := range cases {
		if got := subs[tc.eventType]; !slices.Equal(got, tc.want) {
			t.Errorf("Subscribers()[%s] = %v, want %v", tc.eventType, got, tc.want)
		}
	}
}

func TestKnownEventTypes(t *testing.T) {
	want := []string{events.TypeEdgeStored, events.TypeLocationReported, events.TypeLocationUpdated}
	slices.Sort(want)
	if got := functions.KnownEventTypes(); !slices.Equal(got, want) {
		t.Fatalf("KnownEventTypes() = %v, want %v", got, want)
	}
}

// TestEdgeSiteMatchesPack: edge-k3s/base runs exactly the pack's EdgeSite
// functions, each from its own image.
func TestEdgeSiteMatchesPack(t *testing.T) {
	files, err := filepath.Glob("../edge-k3s/base/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("edge-k3s/base: %v (%d files)", err, len(files))
	}
	image := regexp.MustCompile(`(?m)^\s*image:\s*ghcr\.io/geotrack/([a-z0-9-]+):`)
	var deployed []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range image.FindAllSubmatch(raw, -1) {
			deployed = append(deployed, string(m[1]))
		}
	}
	slices.Sort(deployed)
	var want []string
	for _, s := range functions.Pack() {
		if s.EdgeSite {
			want = append(want, s.Name)
		}
	}
	if !slices.Equal(deployed, want) {
		t.Fatalf("edge-k3s/base deploys %v, the pack's EdgeSite functions are %v", deployed, want)
	}
}

// TestChartValuesMatchPack: the chart's functions block (generated from
// stack.yml) names the pack's functions with their events and placement.
func TestChartValuesMatchPack(t *testing.T) {
	raw, err := os.ReadFile("../charts/geotrack/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Functions map[string]struct {
			Edge       bool     `yaml:"edge"`
			Emits      []string `yaml:"emits"`
			Subscribes []string `yaml:"subscribes"`
			Schedule   string   `yaml:"schedule"`
		} `yaml:"functions"`
	}
	if err := yaml.Unmarshal(raw, &values); err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range values.Functions {
		names = append(names, name)
	}
	slices.Sort(names)
	if !slices.Equal(names, functions.Names()) {
		t.Fatalf("chart functions %v, pack %v", names, functions.Names())
	}
	for _, s := range functions.Pack() {
		v := values.Functions[s.Name]
		if v.Edge != s.Edge || v.Schedule != s.Schedule ||
			!slices.Equal(sorted(v.Emits), sorted(s.Emits)) || !slices.Equal(sorted(v.Subscribes), sorted(s.Subscribes)) {
			t.Errorf("%s: chart edge=%v schedule=%q emits=%v subscribes=%v; pack edge=%v schedule=%q emits=%v subscribes=%v",
				s.Name, v.Edge, v.Schedule, v.Emits, v.Subscribes, s.Edge, s.Schedule, s.Emits, s.Subscribes)
		}
	}
}
