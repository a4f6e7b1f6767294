package stack

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

const small = `
version: 1.0
functions:
  ingest:
    annotations:
      topic: io.geotrack.location.reported
    environment:
      DEDUP_TTL: 24h
  audit:
    annotations:
      topic: " io.geotrack.location.updated , io.geotrack.location.reported,,"
  cleanup:
    annotations:
      topic: cron-function
      schedule: "*/5 * * * *"
  forwarder:
    annotations:
      topic: cron-function
      geotrack.io/subscribes: io.geotrack.edge.stored, io.geotrack.location.updated
  position:
    environment:
      MAX_INFLIGHT: "100"
  plain:
    annotations:
      geotrack.io/emits: io.geotrack.edge.stored
`

func TestParse(t *testing.T) {
	f, err := Parse([]byte(small))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Functions) != 6 {
		t.Fatalf("%d functions, want 6", len(f.Functions))
	}
	if got := f.Functions["ingest"].Environment["DEDUP_TTL"]; got != "24h" {
		t.Errorf("ingest DEDUP_TTL = %q", got)
	}
	if got := f.Functions["forwarder"].Annotations["schedule"]; got != "" {
		t.Errorf("forwarder schedule = %q, want none", got)
	}
	if got := f.Functions["cleanup"].Annotations["schedule"]; got != "*/5 * * * *" {
		t.Errorf("cleanup schedule = %q", got)
	}
	if f.Functions["position"].Annotations != nil {
		t.Errorf("position annotations = %v, want nil", f.Functions["position"].Annotations)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		in   string
	}{
		{"not yaml", "functions: [\n"},
		{"functions is a list", "functions:\n  - ingest\n"},
		{"annotations is a string", "functions:\n  ingest:\n    annotations: topic\n"},
		{"tab indentation", "functions:\n\tingest: {}\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("no error: %+v", f)
			}
			if !strings.HasPrefix(err.Error(), "parse stack.yml: ") {
				t.Fatalf("error %q", err)
			}
			if f.Functions != nil {
				t.Fatalf("partial file returned: %+v", f)
			}
		})
	}
}

func TestSubscribers(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want map[string][]string
	}{
		{"small", small, map[string][]string{
			"io.geotrack.location.reported": {"audit", "ingest"},
			"io.geotrack.location.updated":  {"audit", "forwarder"},
			"io.geotrack.edge.stored":       {"forwarder"},
		}},
		{"empty file", "", map[string][]string{}},
		{"no annotations", "functions:\n  a: {}\n", map[string][]string{}},
		{"cron only", "functions:\n  a:\n    annotations:\n      topic: cron-function\n", map[string][]string{}},
		{"cron among topics is skipped", "functions:\n  a:\n    annotations:\n      topic: x, cron-function ,y\n",
			map[string][]string{"x": {"a"}, "y": {"a"}}},
		{"subscribes on a non-cron function", "functions:\n  b:\n    annotations:\n      topic: x\n      geotrack.io/subscribes: y\n  a:\n    annotations:\n      topic: x\n",
			map[string][]string{"x": {"a", "b"}, "y": {"b"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			got := f.Subscribers()
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Subscribers() = %v, want %v", got, tc.want)
			}
			if _, ok := got[CronTopic]; ok {
				t.Fatalf("%s listed as an event type", CronTopic)
			}
		})
	}
}

func TestRealStackFile(t *testing.T) {
	data, err := os.ReadFile("../../stack.yml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	subs := f.Subscribers()
	cases := []struct {
		eventType string
		want      []string
	}{
		{"io.geotrack.location.reported", []string{"ingest"}},
		{"io.geotrack.edge.stored", []string{"forwarder"}},
	}
	for _, tc := range cases {
		if got := subs[tc.eventType]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s → %v, want %v", tc.eventType, got, tc.want)
		}
	}
	if _, ok := subs[CronTopic]; ok {
		t.Errorf("%s listed as an event type", CronTopic)
	}
	if got := f.Functions["forwarder"].Annotations["topic"]; got != CronTopic {
		t.Errorf("forwarder topic %q, want %s (scheduled)", got, CronTopic)
	}
	for _, name := range []string{"ingest", "edge-ingest", "forwarder"} {
		if _, ok := f.Functions[name]; !ok {
			t.Errorf("function %s missing from stack.yml", name)
		}
	}
}
