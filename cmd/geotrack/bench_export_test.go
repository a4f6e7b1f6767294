package main

import (
	"os"
	"testing"

	"github.com/geotrack/geotrack/internal/stack"
)

// The export benchmark must measure track as stack.yml deploys it.
func TestExportBenchRunsTrackAsDeployed(t *testing.T) {
	raw, err := os.ReadFile("../../stack.yml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := stack.ParseStrict(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Functions["track"].Environment["GOMEMLIMIT"]; got != trackMemLimit {
		t.Errorf("stack.yml gives track GOMEMLIMIT %q, the export bench %q", got, trackMemLimit)
	}
}
