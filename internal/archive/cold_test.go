package archive_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/geotrack/geotrack/internal/archive"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/testenv"
)

const coldBucket = "archive-test"

// coldMinIO starts a MinIO with an empty bucket and returns a client.
func coldMinIO(t *testing.T) *minio.Client {
	t.Helper()
	m := testenv.StartMinIO(t)
	client, err := minio.New(m.Addr, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.MakeBucket(context.Background(), coldBucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return client
}

// putRows writes rows as one Parquet object (zstd) with row groups of
// groupRows, as any writer of the archive's schema would.
func putRows(t *testing.T, client *minio.Client, key string, rows []archive.Row, groupRows int) {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[archive.Row](&buf, parquet.Compression(&zstd.Codec{}), parquet.MaxRowsPerRowGroup(int64(groupRows)))
	for i := 0; i < len(rows); i += groupRows {
		if _, err := w.Write(rows[i:min(i+groupRows, len(rows))]); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil { // one row group per slice
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutObject(context.Background(), coldBucket, key, &buf, int64(buf.Len()), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

var day0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// rowsEvery is n rows of device from start, one every step.
func rowsEvery(device string, start time.Time, step time.Duration, n int) []archive.Row {
	rows := make([]archive.Row, n)
	for i := range rows {
		ts := start.Add(time.Duration(i) * step)
		rows[i] = archive.Row{Device: device, TS: ts.UnixMilli(), LatE7: int32(470000000 + i), LonE7: 80000000}
	}
	return rows
}

func key(device string, day time.Time, part string) string {
	escaped := strings.ReplaceAll(device, ":", "%3A")
	return "geo/tenant=acme/device=" + escaped + "/date=" + day.Format(time.DateOnly) + "/" + part + ".parquet"
}

func scanAll(t *testing.T, s *archive.ColdStore, device string, from, to time.Time) ([]fix.Fix, error) {
	t.Helper()
	var out []fix.Fix
	for batch, err := range s.Scan(context.Background(), "acme", device, from, to) {
		if err != nil {
			return out, err
		}
		if len(batch) == 0 || len(batch) > 1024 {
			t.Fatalf("batch of %d", len(batch))
		}
		out = append(out, batch...)
	}
	return out, nil
}

func TestColdStoreScan(t *testing.T) {
	client := coldMinIO(t)
	const device = "truck:7"
	// Three days of a fix a minute (1440 a day), in row groups of 100; day 1
	// has a second part repeating its last hour and adding ten late fixes
	// at odd seconds (an import merged as another object).
	for d := range 3 {
		day := day0.AddDate(0, 0, d)
		putRows(t, client, key(device, day, "part-0"), rowsEvery(device, day, time.Minute, 1440), 100)
	}
	day1 := day0.AddDate(0, 0, 1)
	late := append(rowsEvery(device, day1.Add(23*time.Hour), time.Minute, 60), rowsEvery(device, day1.Add(30*time.Second), time.Minute, 10)...)
	slices.SortFunc(late, func(a, b archive.Row) int { return int(a.TS - b.TS) })
	putRows(t, client, key(device, day1, "part-1"), late, 100)
	// Neighbours that must not leak in.
	putRows(t, client, key("truck", day0, "part-0"), rowsEvery("truck", day0, time.Second, 10), 100)
	putRows(t, client, "geo/tenant=acme/device=truck:7/date=2026-11-02/manifest.json", nil, 1)

	s := archive.NewColdStore(client, coldBucket, "geo/", nil)
	cases := []struct {
		name        string
		from, to    time.Time
		n           int
		first, last time.Time
	}{
		{name: "everything", n: 3*1440 + 10, first: day0, last: day0.AddDate(0, 0, 3).Add(-time.Minute)},
		{name: "a range across days and row groups", from: day0.Add(20*time.Hour + 30*time.Second), to: day1.Add(2*time.Hour + 30*time.Second),
			n: 239 + 121 + 10, first: day0.Add(20*time.Hour + time.Minute), last: day1.Add(2 * time.Hour)},
		{name: "one instant", from: day1.Add(30 * time.Second), to: day1.Add(30 * time.Second), n: 1, first: day1.Add(30 * time.Second), last: day1.Add(30 * time.Second)},
		{name: "before the archive", to: day0.Add(-time.Millisecond)},
		{name: "after the archive", from: day0.AddDate(0, 0, 3)},
		{name: "from only", from: day0.AddDate(0, 0, 2).Add(23*time.Hour + 58*time.Minute), n: 2, first: day0.AddDate(0, 0, 2).Add(23*time.Hour + 58*time.Minute), last: day0.AddDate(0, 0, 3).Add(-time.Minute)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scanAll(t, s, device, tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.n {
				t.Fatalf("%d fixes, want %d", len(got), tc.n)
			}
			for i := 1; i < len(got); i++ {
				if !got[i].TS.After(got[i-1].TS) {
					t.Fatalf("fix %d at %s not after %s", i, got[i].TS, got[i-1].TS)
				}
			}
			if tc.n > 0 && (!got[0].TS.Equal(tc.first) || !got[len(got)-1].TS.Equal(tc.last)) {
				t.Fatalf("from %s to %s, want %s to %s", got[0].TS, got[len(got)-1].TS, tc.first, tc.last)
			}
			for _, f := range got {
				if f.Device != device {
					t.Fatalf("fix of %q", f.Device)
				}
			}
		})
	}

	// A consumer that stops early gets no error and leaves nothing open.
	n := 0
	for _, err := range s.Scan(context.Background(), "acme", device, time.Time{}, time.Time{}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 2 {
			break
		}
	}
}

func TestColdStoreRowsBecomeTheStoredFixes(t *testing.T) {
	client := coldMinIO(t)
	f32 := func(v float32) *float32 { return &v }
	str := func(s string) *string { return &s }
	ts := day0.Add(123 * time.Millisecond)
	putRows(t, client, key("d1", day0, "part-0"), []archive.Row{
		{Device: "d1", TS: ts.UnixMilli(), LatE7: 515000000, LonE7: -1200000, Alt: f32(223.4), Acc: f32(5), Speed: f32(0), Heading: f32(359.9), Battery: f32(0.87),
			Attrs: str(`{"driver":"ann","~exact":{"lat":51.50000001,"alt":223.456789123}}`)},
		{Device: "d1", TS: ts.UnixMilli() + 1000, LatE7: -338688197, LonE7: 1512092955},
	}, 100)
	got, err := scanAll(t, archive.NewColdStore(client, coldBucket, "geo/", nil), "d1", time.Time{}, time.Time{})
	if err != nil || len(got) != 2 {
		t.Fatalf("%d fixes, %v", len(got), err)
	}
	want0 := fix.Fix{Device: "d1", TS: ts, Lat: 51.50000001, Lon: -0.12, Alt: fix.Float(223.456789123), Acc: fix.Float(5), Speed: fix.Float(0),
		Heading: fix.Float(359.9), Battery: fix.Float(0.87), Attrs: map[string]string{"driver": "ann"}}
	if string(got[0].AppendJSON(nil)) != string(want0.AppendJSON(nil)) {
		t.Fatalf("row 0 is\n%s\nwant\n%s", got[0].AppendJSON(nil), want0.AppendJSON(nil))
	}
	if got[1].Lat != -33.8688197 || got[1].Lon != 151.2092955 || got[1].Alt != nil || got[1].Attrs != nil {
		t.Fatalf("row 1 is %+v", got[1])
	}
}

func TestColdStoreRefusesWhatItCannotOrder(t *testing.T) {
	client := coldMinIO(t)
	rows := rowsEvery("d1", day0, time.Second, 300)
	rows[150].TS, rows[151].TS = rows[151].TS, rows[150].TS
	putRows(t, client, key("d1", day0, "part-0"), rows, 100)
	putRows(t, client, key("d2", day0, "part-0"), []archive.Row{{Device: "d2", TS: day0.UnixMilli(), Attrs: func() *string { s := `{"n":1}`; return &s }()}}, 1)
	s := archive.NewColdStore(client, coldBucket, "geo/", nil)
	if _, err := scanAll(t, s, "d1", time.Time{}, time.Time{}); err == nil || !strings.Contains(err.Error(), "not in ts order") {
		t.Fatalf("error %v", err)
	}
	if _, err := scanAll(t, s, "d2", time.Time{}, time.Time{}); err == nil || !strings.Contains(err.Error(), `attr "n" is not a string`) {
		t.Fatalf("error %v", err)
	}
	down := archive.NewColdStore(client, "no-such-bucket", "geo/", nil)
	if _, err := scanAll(t, down, "d1", time.Time{}, time.Time{}); err == nil || !strings.Contains(err.Error(), "archive: list") {
		t.Fatalf("error %v", err)
	}
}
