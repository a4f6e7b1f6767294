package geojson

import (
	"bytes"
	"io"
	"testing"

	"github.com/geotrack/geotrack/internal/tracktest"
)

func BenchmarkEncodeTrack10k(b *testing.B) {
	fixes := tracktest.Track(10000)
	for b.Loop() {
		if err := EncodeTrack(io.Discard, "d", fixes); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode10k(b *testing.B) {
	var buf bytes.Buffer
	if err := EncodeTrack(&buf, "d", tracktest.Track(10000)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := Decode(buf.Bytes(), "d"); err != nil {
			b.Fatal(err)
		}
	}
}
