package edgebench

import (
	"fmt"
	"io"
	"time"

	"github.com/geotrack/geotrack/internal/edgefilter"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/fleet"
)

// SimDuration is the length of each simulated track.
const SimDuration = 30 * time.Minute

// Main loads every *.gpx in trackDir, adds `simulated` simulated vehicle
// tracks (seeds 1..simulated, so runs are reproducible), runs the benchmark
// with the default settings and writes the Markdown report to w. trackDir
// may be "" to use simulated tracks only.
func Main(w io.Writer, trackDir string, simulated int) error {
	tracks := map[string][]fix.Fix{}
	if trackDir != "" {
		loaded, err := LoadGPXDir(trackDir)
		if err != nil {
			return fmt.Errorf("edge bench: %w", err)
		}
		tracks = loaded
	}
	for seed := 1; seed <= simulated; seed++ {
		tracks[fmt.Sprintf("simulated-%02d", seed)] = fleet.Track(uint64(seed), SimDuration)
	}
	if len(tracks) == 0 {
		return fmt.Errorf("edge bench: no tracks: no *.gpx in %q and no simulated tracks requested", trackDir)
	}
	s := edgefilter.DefaultSettings()
	if err := s.Validate(); err != nil {
		return fmt.Errorf("edge bench: %w", err)
	}
	if _, err := io.WriteString(w, Run(tracks, s).Markdown()); err != nil {
		return fmt.Errorf("edge bench: write report: %w", err)
	}
	return nil
}
