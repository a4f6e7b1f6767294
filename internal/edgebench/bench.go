// Package edgebench measures the edge filter against the position filters
// of AWS Location and Traccar on recorded and simulated tracks: how many
// bytes each forwards and how far the forwarded track strays from the raw
// one. The `geotrack bench edge` command prints its report.
package edgebench

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/geotrack/geotrack/internal/edgefilter"
	"github.com/geotrack/geotrack/internal/fix"
)

// Row is one filter on one track (or on all tracks, Track == TotalTrack).
type Row struct {
	Track    string  `json:"track"`
	Filter   string  `json:"filter"`
	RawFixes int     `json:"raw_fixes"`
	RawBytes int     `json:"raw_bytes"`
	FwdFixes int     `json:"fwd_fixes"`
	FwdBytes int     `json:"fwd_bytes"`
	Ratio    float64 `json:"ratio"`      // RawBytes / FwdBytes
	MaxDevM  float64 `json:"max_dev_m"`  // see edgefilter.MaxDeviation
	MeanDevM float64 `json:"mean_dev_m"` // over all raw fixes
	// WireBytes is what the forwarder puts on the uplink: the forwarded
	// fixes in batches of WireBatch, each gzipped (FORWARD_GZIP).
	WireBytes int     `json:"wire_bytes"`
	WireRatio float64 `json:"wire_ratio"` // RawBytes / WireBytes
	devSumM   float64
	devFixesN int
}

// TotalTrack names the rows that sum over every track.
const TotalTrack = "total"

// Report is the outcome of Run.
type Report struct {
	Settings edgefilter.Settings `json:"settings"`
	Rows     []Row               `json:"rows"`   // per track, tracks sorted by name
	Totals   []Row               `json:"totals"` // one per filter
	// FixesPerSec is the throughput of edgefilter.Filter.Push, single
	// goroutine, wall clock.
	FixesPerSec float64 `json:"fixes_per_sec"`
}

type candidate struct {
	name string
	run  func([]fix.Fix) []fix.Fix
}

func candidates(s edgefilter.Settings) []candidate {
	return []candidate{
		{fmt.Sprintf("geotrack edge ε=%g m", s.EpsilonM), func(f []fix.Fix) []fix.Fix { return edgefilter.Replay(s, f) }},
		{"AWS DistanceBased 30 m", func(f []fix.Fix) []fix.Fix { return edgefilter.DistanceBased(f, 30) }},
		{"AWS TimeBased 30 s", func(f []fix.Fix) []fix.Fix { return edgefilter.TimeBased(f, 30*time.Second) }},
		{"distance filter 10 m", func(f []fix.Fix) []fix.Fix { return edgefilter.DistanceBased(f, 10) }},
	}
}

// Run replays every track (one device's time-ordered fixes each) through
// the geotrack edge filter with s and through the comparison filters.
// Bytes are the size of the CloudEvent data the edge would send: a JSON
// array of fix objects. Deviation is measured against all raw fixes of the
// track, including those the edge filter's pre-filters dropped, with the
// same time-synchronised measure for every filter.
func Run(tracks map[string][]fix.Fix, s edgefilter.Settings) Report {
	names := make([]string, 0, len(tracks))
	for n := range tracks {
		names = append(names, n)
	}
	slices.Sort(names)
	cands := candidates(s)
	rep := Report{Settings: s}
	totals := make([]Row, len(cands))
	for i, c := range cands {
		totals[i] = Row{Track: TotalTrack, Filter: c.name}
	}
	for _, name := range names {
		raw := tracks[name]
		rawBytes := jsonSize(raw)
		for i, c := range cands {
			fwd := c.run(raw)
			mx, mean := edgefilter.MaxDeviation(raw, fwd)
			row := Row{
				Track: name, Filter: c.name,
				RawFixes: len(raw), RawBytes: rawBytes,
				FwdFixes: len(fwd), FwdBytes: jsonSize(fwd), WireBytes: wireSize(fwd),
				MaxDevM: mx, MeanDevM: mean,
			}
			row.Ratio = ratio(row.RawBytes, row.FwdBytes)
			row.WireRatio = ratio(row.RawBytes, row.WireBytes)
			rep.Rows = append(rep.Rows, row)
			t := &totals[i]
			t.RawFixes += row.RawFixes
			t.RawBytes += row.RawBytes
			t.FwdFixes += row.FwdFixes
			t.FwdBytes += row.FwdBytes
			t.WireBytes += row.WireBytes
			t.MaxDevM = math.Max(t.MaxDevM, mx)
			t.devSumM += mean * float64(len(raw))
			t.devFixesN += len(raw)
		}
	}
	for i := range totals {
		t := &totals[i]
		t.Ratio = ratio(t.RawBytes, t.FwdBytes)
		t.WireRatio = ratio(t.RawBytes, t.WireBytes)
		if t.devFixesN > 0 {
			t.MeanDevM = t.devSumM / float64(t.devFixesN)
		}
	}
	rep.Totals = totals
	rep.FixesPerSec = throughput(tracks, names, s)
	return rep
}

// throughput pushes every track through fresh filters until at least
// 200 ms have passed, so the figure is not dominated by timer resolution.
func throughput(tracks map[string][]fix.Fix, names []string, s edgefilter.Settings) float64 {
	var pushed int
	start := time.Now()
	for time.Since(start) < 200*time.Millisecond {
		for _, n := range names {
			f := edgefilter.New(s)
			for _, x := range tracks[n] {
				f.Push(x, x.TS)
			}
			f.Flush()
			pushed += len(tracks[n])
		}
		if pushed == 0 {
			return 0
		}
	}
	return float64(pushed) / time.Since(start).Seconds()
}

func jsonSize(fixes []fix.Fix) int {
	if fixes == nil {
		fixes = []fix.Fix{}
	}
	b, err := json.Marshal(fixes)
	if err != nil { // fix.Fix always marshals; NaN would be a caller bug
		panic(fmt.Sprintf("edgebench: marshal fixes: %v", err))
	}
	return len(b)
}

// WireBatch is the forwarder's default batch size (FORWARD_BATCH_SIZE).
const WireBatch = 500

// wireSize is the gzipped size of fixes sent in batches of WireBatch, as
// the forwarder sends them (the CloudEvent envelope, ~250 bytes a batch
// before compression, is left out for every filter alike).
func wireSize(fixes []fix.Fix) int {
	total := 0
	for i := 0; i < len(fixes); i += WireBatch {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		b, _ := json.Marshal(fixes[i:min(i+WireBatch, len(fixes))])
		zw.Write(b)
		zw.Close()
		total += buf.Len()
	}
	return total
}

func ratio(raw, fwd int) float64 {
	if fwd == 0 {
		return math.Inf(1)
	}
	return float64(raw) / float64(fwd)
}
