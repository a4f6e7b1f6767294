package archive

import (
	"testing"
	"time"
)

// benchRows is a day of 1 Hz rows looping the recorded tracks.
func benchRows(b *testing.B) []Row {
	var rows []Row
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, track := range recordedTracks(b) {
		for _, f := range track {
			f.TS = start.Add(time.Duration(len(rows)) * time.Second)
			r, err := FromFix(f)
			if err != nil {
				b.Fatal(err)
			}
			rows = append(rows, r)
		}
	}
	return rows
}

func BenchmarkEncode(b *testing.B) {
	rows := benchRows(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Encode(rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/point")
}

func BenchmarkFromFix(b *testing.B) {
	tracks := recordedTracks(b)
	n := 0
	for b.Loop() {
		for _, f := range tracks[0] {
			if _, err := FromFix(f); err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/point")
}

func BenchmarkDecode(b *testing.B) {
	data, err := Encode(benchRows(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
