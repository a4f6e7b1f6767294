package edgebench

import (
	"os"
	"strings"
	"testing"
)

const tracksDir = "../../testdata/tracks"

// TestMainPrintsReport runs the whole benchmark on the real recordings and
// two simulated tracks. Set EDGEBENCH_PRINT=1 to see the report.
func TestMainPrintsReport(t *testing.T) {
	var b strings.Builder
	if err := Main(&b, tracksDir, 2); err != nil {
		t.Fatalf("Main: %v", err)
	}
	out := b.String()
	for _, want := range []string{"run-with-laps", "strava-ride-los-angeles", "simulated-01", "simulated-02",
		"geotrack edge ε=5 m", "AWS DistanceBased 30 m", "AWS TimeBased 30 s", "distance filter 10 m", "| total |", "fixes/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if os.Getenv("EDGEBENCH_PRINT") != "" {
		t.Log("\n" + out)
	}
}
