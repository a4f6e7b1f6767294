package archive

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/gpx"
	"github.com/parquet-go/parquet-go"
)

// recordedTracks loads the 1 Hz tracks of testdata/tracks as fixes.
func recordedTracks(t testing.TB) [][]fix.Fix {
	t.Helper()
	paths, err := filepath.Glob("../../testdata/tracks/*.gpx")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no tracks: %v", err)
	}
	var tracks [][]fix.Fix
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		fixes, err := gpx.Decode(f, "dev-1", 1_000_000)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		tracks = append(tracks, fixes)
	}
	return tracks
}

func TestRowsRoundTripFixesExactly(t *testing.T) {
	ts := time.Date(2026, 3, 1, 12, 0, 0, 123e6, time.UTC)
	cases := []struct {
		name      string
		fix       fix.Fix
		wantExact bool // needs the ExactKey fallback
	}{
		{"bare 7 decimals", fix.Fix{Device: "d", TS: ts, Lat: 52.5200066, Lon: 13.404954}, false},
		{"negative", fix.Fix{Device: "d", TS: ts, Lat: -33.8688197, Lon: -151.2092955}, false},
		{"extremes", fix.Fix{Device: "d", TS: ts, Lat: fix.MaxLat, Lon: -180}, true},
		{"full doubles", fix.Fix{Device: "d", TS: ts, Lat: 52.52000659999999, Lon: 13.404954123456789}, true},
		{"optionals short", fix.Fix{Device: "d", TS: ts, Lat: 1, Lon: 2, Alt: fix.Float(223.4), Acc: fix.Float(5.3),
			Speed: fix.Float(0), Heading: fix.Float(359.9), Battery: fix.Float(0.87)}, false},
		{"optionals long", fix.Fix{Device: "d", TS: ts, Lat: 1, Lon: 2, Alt: fix.Float(223.456789123), Battery: fix.Float(1.0 / 3)}, true},
		{"attrs", fix.Fix{Device: "d", TS: ts, Lat: 1, Lon: 2, Attrs: map[string]string{"b": "2", "a": "\"quoted\" <x>", ExactKey: "s"}}, false},
		{"attrs and exact", fix.Fix{Device: "d", TS: ts, Lat: 1.123456789, Lon: 2, Attrs: map[string]string{"lat": "text"}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			row, err := FromFix(c.fix)
			if err != nil {
				t.Fatal(err)
			}
			gotExact := row.Attrs != nil && contains(*row.Attrs, ExactKey+`":{`)
			if gotExact != c.wantExact {
				t.Errorf("exact fallback = %v, want %v (attrs %v)", gotExact, c.wantExact, row.Attrs)
			}
			back, err := row.Fix()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, c.fix) {
				t.Errorf("round trip:\n got %+v\nwant %+v", back, c.fix)
			}
			// Through Parquet too.
			data, err := Encode([]Row{row})
			if err != nil {
				t.Fatal(err)
			}
			rows, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || checksum(rows) != checksum([]Row{row}) {
				t.Fatalf("parquet round trip: %+v", rows)
			}
		})
	}
}

func TestExactKeyClashIsAnError(t *testing.T) {
	_, err := FromFix(fix.Fix{Device: "d", TS: time.UnixMilli(1), Lat: 1.123456789, Attrs: map[string]string{ExactKey: "x"}})
	if err == nil {
		t.Fatal("no error for an attr named like the exact key on a fix that needs it")
	}
}

func contains(s, sub string) bool { return len(s) >= len(sub) && (s == sub || indexOf(s, sub) >= 0) }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// TestRecordedTracksSize: the recorded 1 Hz tracks round-trip exactly
// through one object each, in no more bytes than measured when the schema
// last changed (a guard against a regression of the encoding; the figures
// are in BENCHMARKS.md). The per-column sizes are logged with -v.
func TestRecordedTracksSize(t *testing.T) {
	// Bytes per point, in the order of recordedTracks (run-with-laps, the
	// ride), each including the ~1.5 KB footer and page index an object has.
	maxBytesPerPoint := []float64{4.35, 7.8}
	for i, track := range recordedTracks(t) {
		rows := make([]Row, len(track))
		for j, f := range track {
			r, err := FromFix(f)
			if err != nil {
				t.Fatal(err)
			}
			rows[j] = r
		}
		data, err := Encode(rows)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		for j := range back {
			f, err := back[j].Fix()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f, track[j]) {
				t.Fatalf("track %d point %d: got %+v want %+v", i, j, f, track[j])
			}
		}
		perPoint := float64(len(data)) / float64(len(rows))
		t.Logf("track %d: %d points, %d bytes, %.2f bytes/point, exact fallbacks %d", i, len(rows), len(data), perPoint, countExact(rows))
		if perPoint > maxBytesPerPoint[i] {
			t.Errorf("track %d: %.2f bytes/point, was at most %.2f", i, perPoint, maxBytesPerPoint[i])
		}
		f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range f.Metadata().RowGroups[0].Columns {
			t.Logf("  %v: %.2f bytes/point %v", c.MetaData.PathInSchema, float64(c.MetaData.TotalCompressedSize)/float64(len(rows)), c.MetaData.Encoding)
		}
	}
}

func countExact(rows []Row) int {
	n := 0
	for _, r := range rows {
		if r.Attrs != nil && contains(*r.Attrs, ExactKey) {
			n++
		}
	}
	return n
}

func TestDecodeRefusesWhatIsNotAnObject(t *testing.T) {
	good, err := Encode([]Row{{Device: "d", TS: 1, LatE7: 2, LonE7: 3}, {Device: "d", TS: 2, LatE7: 2, LonE7: 3}})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":         nil,
		"garbage":       []byte("not parquet at all"),
		"magic only":    []byte("PAR1PAR1"),
		"truncated":     good[:len(good)/2],
		"footer cut":    good[:len(good)-9],
		"flipped magic": append(append([]byte{}, good[:len(good)-4]...), "PAR2"...),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if rows, err := Decode(data); err == nil {
				t.Fatalf("decoded %d rows", len(rows))
			}
		})
	}
}

// TestDecodeRefusesAnOlderSchema: an object of the first schema (lat_e7,
// float32 values) fails with an error naming the column instead of
// reading as zeros.
func TestDecodeRefusesAnOlderSchema(t *testing.T) {
	type rowV1 struct {
		Device string   `parquet:"device,dict"`
		TS     int64    `parquet:"ts,timestamp(millisecond),delta"`
		LatE7  int32    `parquet:"lat_e7,delta"`
		LonE7  int32    `parquet:"lon_e7,delta"`
		Alt    *float32 `parquet:"alt,optional"`
	}
	var buf bytes.Buffer
	if err := parquet.Write(&buf, []rowV1{{Device: "d", TS: 1, LatE7: 470000000, LonE7: 80000000}}); err != nil {
		t.Fatal(err)
	}
	_, err := Decode(buf.Bytes())
	if err == nil || !contains(err.Error(), `"lat"`) {
		t.Fatalf("decoded an object of the older schema: %v", err)
	}
}
