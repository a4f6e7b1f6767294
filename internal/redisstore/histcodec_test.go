package redisstore

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

func TestRecordRoundTrip(t *testing.T) {
	ts := time.UnixMilli(1772366400123).UTC()
	negZero := math.Copysign(0, -1)
	cases := []struct {
		name    string
		f       fix.Fix
		wantLen int // 0: do not check
	}{
		{"position only", fix.Fix{Lat: 52.5200066, Lon: 13.404954}, 12},
		{"typical GPS fix", fix.Fix{Lat: 51.489471, Lon: -0.1234567, Alt: fix.Float(35.2), Acc: fix.Float(4.8),
			Speed: fix.Float(13.37), Heading: fix.Float(271.5), Battery: fix.Float(0.873)}, 23},
		{"more than 7 decimals: raw floats", fix.Fix{Lat: 52.52000661234, Lon: 13.4}, 20},
		{"negative zero position", fix.Fix{Lat: negZero, Lon: negZero}, 20},
		{"negative zero optional", fix.Fix{Lat: 1, Lon: 1, Speed: fix.Float(negZero)}, 21},
		{"zero values present", fix.Fix{Lat: 0, Lon: 0, Alt: fix.Float(0), Acc: fix.Float(0), Speed: fix.Float(0),
			Heading: fix.Float(0), Battery: fix.Float(0)}, 23},
		{"limits", fix.Fix{Lat: fix.MaxLat, Lon: -180, Alt: fix.Float(-12000), Heading: fix.Float(359.99), Battery: fix.Float(1)}, 0},
		{"huge alt and acc", fix.Fix{Lat: 1, Lon: 2, Alt: fix.Float(100000), Acc: fix.Float(1e300)}, 0},
		{"alt beyond int24 decimetres", fix.Fix{Lat: 1, Lon: 2, Alt: fix.Float(999999.9)}, 0},
		{"speed beyond the scaled range", fix.Fix{Lat: 1, Lon: 2, Speed: fix.Float(3e8)}, 0},
		{"odd decimals", fix.Fix{Lat: 0.1, Lon: 1.0 / 3, Alt: fix.Float(0.05), Acc: fix.Float(0.01),
			Speed: fix.Float(1e-9), Heading: fix.Float(123.456), Battery: fix.Float(0.12345)}, 0},
		{"smallest subnormal", fix.Fix{Lat: math.SmallestNonzeroFloat64, Lon: -math.SmallestNonzeroFloat64}, 0},
		{"attrs", fix.Fix{Lat: 1, Lon: 2, Attrs: map[string]string{"src": "gpx", "q\"uote": "é\u2028\x00"}}, 0},
		{"only battery", fix.Fix{Lat: 1, Lon: 2, Battery: fix.Float(0.5)}, 14},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.f.Device, c.f.TS = "dev-1", ts
			_, start := bucketOf(ts.UnixMilli())
			rec := appendRecord(nil, &c.f, start)
			if c.wantLen > 0 && len(rec) != c.wantLen {
				t.Errorf("record is %d bytes, want %d", len(rec), c.wantLen)
			}
			got, n, err := decodeRecord(rec, "dev-1", start)
			if err != nil || n != len(rec) {
				t.Fatalf("decode = %d bytes, %v; want %d, nil", n, err, len(rec))
			}
			if !sameFix(got, c.f) {
				t.Errorf("round trip\n got %+v\nwant %+v", describe(got), describe(c.f))
			}
		})
	}
}

// sameFix compares bit for bit (so -0 differs from +0).
func sameFix(a, b fix.Fix) bool {
	if a.Device != b.Device || !a.TS.Equal(b.TS) || a.TS.Location() != time.UTC ||
		math.Float64bits(a.Lat) != math.Float64bits(b.Lat) || math.Float64bits(a.Lon) != math.Float64bits(b.Lon) {
		return false
	}
	for i, pa := range []*float64{a.Alt, a.Acc, a.Speed, a.Heading, a.Battery} {
		pb := []*float64{b.Alt, b.Acc, b.Speed, b.Heading, b.Battery}[i]
		if (pa == nil) != (pb == nil) || pa != nil && math.Float64bits(*pa) != math.Float64bits(*pb) {
			return false
		}
	}
	return len(a.Attrs) == len(b.Attrs) && (len(a.Attrs) == 0 || reflect.DeepEqual(a.Attrs, b.Attrs))
}

func describe(f fix.Fix) []any {
	out := []any{f.Device, f.TS, f.Lat, f.Lon}
	for _, p := range []*float64{f.Alt, f.Acc, f.Speed, f.Heading, f.Battery} {
		if p == nil {
			out = append(out, nil)
		} else {
			out = append(out, *p)
		}
	}
	return append(out, f.Attrs)
}

func TestDecodeBucketKeepsOrderAndOffsets(t *testing.T) {
	n, start := bucketOf(time.Date(2026, 3, 1, 10, 7, 0, 0, time.UTC).UnixMilli())
	if start%bucketMS != 0 || n*bucketMS != start {
		t.Fatalf("bucketOf: n %d start %d", n, start)
	}
	var b []byte
	offsets := []int64{0, bucketMS - 1, 5, 300000}
	for i, off := range offsets {
		f := fix.Fix{TS: time.UnixMilli(start + off), Lat: float64(i), Lon: 1}
		b = appendRecord(b, &f, start)
	}
	got, err := decodeBucket(nil, b, "d", start)
	if err != nil || len(got) != len(offsets) {
		t.Fatalf("decodeBucket = %d fixes, %v", len(got), err)
	}
	for i, f := range got {
		if f.TS.UnixMilli()-start != offsets[i] || f.Lat != float64(i) || f.Device != "d" {
			t.Errorf("record %d = %+v", i, f)
		}
	}
}

func TestDecodeRecordRefusesDamage(t *testing.T) {
	good := appendRecord(nil, &fix.Fix{TS: time.UnixMilli(1000), Lat: 1, Lon: 2, Speed: fix.Float(1e9),
		Attrs: map[string]string{"a": "b"}}, 0)
	cases := map[string][]byte{
		"empty":                {},
		"short header":         {0, 0, 1},
		"offset beyond bucket": {0xff, 0xff, 0xff, 0},
		"truncated position":   good[:8],
		"truncated attrs":      good[:len(good)-1],
		"ext without fields":   {0, 0, 0, recExt, 0x01, 0, 0, 0, 0, 0, 0, 0, 0},
		"attrs not an object":  append(appendRecord(nil, &fix.Fix{Lat: 1, Lon: 1}, 0)[:4:4], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, '['),
	}
	cases["attrs not an object"][3] = recAttrs
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := decodeRecord(b, "d", 0); !errors.Is(err, errBadRecord) {
				t.Errorf("decodeRecord(%x) = %v, want errBadRecord", b, err)
			}
		})
	}
}

// FuzzDecodeRecord: any bytes either decode to a fix that encodes to a
// record of the decoded length, or fail with errBadRecord; never a panic.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, &fix.Fix{TS: time.UnixMilli(1234), Lat: 52.52, Lon: 13.4, Alt: fix.Float(35.2),
		Acc: fix.Float(4.8), Speed: fix.Float(1e9), Heading: fix.Float(271.5), Battery: fix.Float(0.873)}, 0))
	f.Add(appendRecord(nil, &fix.Fix{Lat: 1.123456789, Lon: -0.5, Attrs: map[string]string{"k": "v"}}, 0))
	f.Add([]byte{0, 0, 0, 0xff, 0x1f})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, n, err := decodeRecord(b, "d", 0)
		if err != nil {
			if !errors.Is(err, errBadRecord) {
				t.Fatalf("error %v does not wrap errBadRecord", err)
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("length %d of %d bytes", n, len(b))
		}
		again, m, err := decodeRecord(appendRecord(nil, &got, 0), "d", 0)
		if err != nil || !sameFix(again, got) {
			t.Fatalf("re-encoded record (%d bytes) = %+v, %v; want %+v", m, describe(again), err, describe(got))
		}
	})
}

var benchFix = fix.Fix{Device: "bench-1", TS: time.UnixMilli(1772366400123), Lat: 51.489471, Lon: -0.1234567,
	Alt: fix.Float(35.2), Acc: fix.Float(4.8), Speed: fix.Float(13.37), Heading: fix.Float(271.5), Battery: fix.Float(0.873)}

func BenchmarkAppendRecord(b *testing.B) {
	_, start := bucketOf(benchFix.TS.UnixMilli())
	buf := make([]byte, 0, 64)
	for i := 0; i < b.N; i++ {
		buf = appendRecord(buf[:0], &benchFix, start)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeRecord(b *testing.B) {
	_, start := bucketOf(benchFix.TS.UnixMilli())
	rec := appendRecord(nil, &benchFix, start)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, err := decodeRecord(rec, "bench-1", start); err != nil {
			b.Fatal(err)
		}
	}
}
