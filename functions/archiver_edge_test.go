package functions_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// edgeManifest is the part of an edge-k3s document this test reads.
type edgeManifest struct {
	Kind string `yaml:"kind"`
	Data map[string]string
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Template struct {
			Spec struct {
				Containers []struct {
					Args []string `yaml:"args"`
					Env  []struct {
						Name  string `yaml:"name"`
						Value string `yaml:"value"`
					} `yaml:"env"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func readEdgeManifests(t *testing.T, path string) []edgeManifest {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []edgeManifest
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var m edgeManifest
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, m)
	}
}

// TestEdgeArchiverIsOptional: edge-k3s ships the archiver off (replicas 0),
// with its bucket in its own environment (S3_ENDPOINT in the shared
// ConfigMap would switch edge-ingest, owntracks and osmand to keeping old
// fixes), its own interval, no audit bucket (the cloud's), and a
// HOT_RETENTION below the node's HISTORY_RETENTION (the hot store trims
// older history whether archived or not).
func TestEdgeArchiverIsOptional(t *testing.T) {
	var env map[string]string
	var replicas *int
	for _, m := range readEdgeManifests(t, "../edge-k3s/base/archiver.yaml") {
		if m.Kind != "Deployment" {
			continue
		}
		replicas = m.Spec.Replicas
		for _, c := range m.Spec.Template.Spec.Containers {
			if len(c.Args) == 1 && c.Args[0] == "archiver" {
				env = map[string]string{}
				for _, e := range c.Env {
					env[e.Name] = e.Value
				}
			}
		}
	}
	if replicas == nil || *replicas != 0 {
		t.Errorf("archiver replicas %v: want 0, archive at the edge is off by default", replicas)
	}
	if env == nil {
		t.Fatal("no archiver container (args [archiver])")
	}
	if env["S3_ENDPOINT"] == "" {
		t.Error("no S3_ENDPOINT in the archiver's env: a site sets its bucket there")
	}
	if v, ok := env["S3_AUDIT_BUCKET"]; !ok || v != "" {
		t.Errorf("S3_AUDIT_BUCKET %q (set %v): want set and empty, the audit archive is the cloud's", v, ok)
	}
	if d, err := time.ParseDuration(env["ARCHIVE_INTERVAL"]); err != nil || d <= 0 {
		t.Errorf("ARCHIVE_INTERVAL %q: want a positive duration (%v)", env["ARCHIVE_INTERVAL"], err)
	}
	hot, err := time.ParseDuration(env["HOT_RETENTION"])
	if err != nil {
		t.Fatalf("HOT_RETENTION %q: %v", env["HOT_RETENTION"], err)
	}
	var shared map[string]string
	for _, m := range readEdgeManifests(t, "../edge-k3s/base/configmap.yaml") {
		if m.Kind == "ConfigMap" {
			shared = m.Data
		}
	}
	for _, k := range []string{"S3_ENDPOINT", "S3_BUCKET"} {
		if _, ok := shared[k]; ok {
			t.Errorf("the shared edge ConfigMap sets %s: every edge function would read it", k)
		}
	}
	history := 168 * time.Hour // internal/edge HISTORY_RETENTION default
	if v, ok := shared["HISTORY_RETENTION"]; ok {
		if history, err = time.ParseDuration(v); err != nil {
			t.Fatalf("HISTORY_RETENTION %q: %v", v, err)
		}
	}
	if hot+24*time.Hour >= history {
		t.Errorf("HOT_RETENTION %s + the day a pass waits >= the node's HISTORY_RETENTION %s: history would be trimmed before it is archived", hot, history)
	}
}
