package geojson

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

func benchTrack(n int) []fix.Fix {
	fixes := make([]fix.Fix, n)
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := range fixes {
		fixes[i] = fix.Fix{Device: "d", TS: base.Add(time.Duration(i) * time.Second), Lat: 47 + float64(i)*1e-5, Lon: 8 + float64(i)*1e-5, Alt: fix.Float(400)}
	}
	return fixes
}

func BenchmarkEncodeTrack10k(b *testing.B) {
	fixes := benchTrack(10000)
	for b.Loop() {
		if err := EncodeTrack(io.Discard, "d", fixes); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode10k(b *testing.B) {
	var buf bytes.Buffer
	if err := EncodeTrack(&buf, "d", benchTrack(10000)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := Decode(buf.Bytes(), "d"); err != nil {
			b.Fatal(err)
		}
	}
}
