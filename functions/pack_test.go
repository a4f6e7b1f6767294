package functions_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/geotrack/geotrack/functions"
	"github.com/geotrack/geotrack/internal/alert"
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
		{events.TypeLocationUpdated, []string{"geofence-detect", "movement", "notify"}},
		{events.TypeGeofenceEntered, []string{"notify"}},
		{events.TypeTripStarted, []string{"notify"}},
	}
	subs := functions.Subscribers()
	for _, tc := range cases {
		if got := subs[tc.eventType]; !slices.Equal(got, tc.want) {
			t.Errorf("Subscribers()[%s] = %v, want %v", tc.eventType, got, tc.want)
		}
	}
}

func TestKnownEventTypes(t *testing.T) {
	want := []string{events.TypeEdgeStored, events.TypeLocationReported, events.TypeLocationUpdated,
		events.TypeGeofenceEntered, events.TypeGeofenceExited, events.TypeGeofenceDwelled,
		alert.TypeAlertFired,
		events.TypeTripStarted, events.TypeTripEnded, events.TypeStopStarted, events.TypeStopEnded}
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

// TestDeployDocMatchesPack: DEPLOY.md's table of functions names every
// function once, with the events it is triggered by, what it emits, its
// schedule and whether edge sites run it, as the pack says.
func TestDeployDocMatchesPack(t *testing.T) {
	raw, err := os.ReadFile("../DEPLOY.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	start := strings.Index(doc, "\n## Functions\n")
	if start < 0 {
		t.Fatal("DEPLOY.md has no '## Functions' section")
	}
	section := doc[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	eventType := regexp.MustCompile(`io\.geotrack\.[a-z.]+[a-z]`)
	name := regexp.MustCompile("`([a-z-]+)`")
	type row struct{ tier, triggers, emits string }
	rows := map[string]row{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 6 || !strings.Contains(cells[1], "`") {
			continue
		}
		for _, m := range name.FindAllStringSubmatch(cells[1], -1) {
			if _, dup := rows[m[1]]; dup {
				t.Errorf("%s has two rows", m[1])
			}
			rows[m[1]] = row{tier: cells[2], triggers: cells[3], emits: cells[4]}
		}
	}
	var documented []string
	for n := range rows {
		documented = append(documented, n)
	}
	slices.Sort(documented)
	if !slices.Equal(documented, functions.Names()) {
		t.Fatalf("DEPLOY.md documents %v, the pack is %v", documented, functions.Names())
	}
	for _, s := range functions.Pack() {
		r := rows[s.Name]
		if triggers := sorted(eventType.FindAllString(r.triggers, -1)); !slices.Equal(triggers, sorted(s.Subscribes)) {
			t.Errorf("%s: DEPLOY.md triggered by %v, pack subscribes %v", s.Name, triggers, s.Subscribes)
		}
		for _, e := range s.Emits {
			if !strings.Contains(r.emits, e) {
				t.Errorf("%s: DEPLOY.md does not say it emits %s", s.Name, e)
			}
		}
		if strings.Contains(r.triggers, "every minute") != (s.Schedule == forwardScheduleDoc) {
			t.Errorf("%s: DEPLOY.md schedule %q, pack schedule %q", s.Name, r.triggers, s.Schedule)
		}
		if strings.Contains(r.tier, "edge") != s.EdgeSite {
			t.Errorf("%s: DEPLOY.md tier %q, pack EdgeSite %v", s.Name, strings.TrimSpace(r.tier), s.EdgeSite)
		}
	}
}

// forwardScheduleDoc is the schedule DEPLOY.md calls "every minute".
const forwardScheduleDoc = "*/1 * * * *"
