package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/geotrack/geotrack/internal/archive"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/testenv"
)

// tiersBucket is the archive bucket of the tiers tests.
const tiersBucket = "geotrack-archive"

// tiersPoint is one point of a history as the test lays it out.
type tiersPoint struct {
	ts       time.Time
	lat, lon float64
}

// tiersArchive writes points as the archive objects of tenant/device, one
// per UTC day, encrypted with SSE-S3 (MinIO's KMS key) as the archiver
// writes them: Parquet with the archive's schema, written here with
// parquet-go and minio-go directly rather than by the archiver, so that
// the reader is tested against the layout and not against one writer.
func tiersArchive(t *testing.T, client *minio.Client, tenant, device string, points []tiersPoint) {
	t.Helper()
	byDay := map[string][]archive.Row{}
	var days []string
	for _, p := range points {
		day := p.ts.UTC().Format(time.DateOnly)
		if _, ok := byDay[day]; !ok {
			days = append(days, day)
		}
		byDay[day] = append(byDay[day], archive.Row{Device: device, TS: p.ts.UnixMilli(),
			LatE7: int32(math.Round(p.lat * 1e7)), LonE7: int32(math.Round(p.lon * 1e7))})
	}
	for _, day := range days {
		var buf bytes.Buffer
		w := parquet.NewGenericWriter[archive.Row](&buf, parquet.Compression(&zstd.Codec{}), parquet.MaxRowsPerRowGroup(500))
		if _, err := w.Write(byDay[day]); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("tenant=%s/device=%s/date=%s/part-0.parquet", tenant, device, day)
		_, err := client.PutObject(context.Background(), tiersBucket, key, &buf, int64(buf.Len()),
			minio.PutObjectOptions{ServerSideEncryption: encrypt.NewSSE(), ContentType: "application/vnd.apache.parquet"})
		if err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
}

// tiersPage is the JSON page of track.
type tiersPage struct {
	Points []struct {
		TS  time.Time `json:"ts"`
		Lat float64   `json:"lat"`
		Lon float64   `json:"lon"`
	} `json:"points"`
	Next string `json:"next"`
}

// TestHistoryAcrossTiers: a history half in the archive (MinIO, Parquet,
// SSE-S3) and half in Redis reads through track as one, paged or exported
// whole, in every format, with no gap and no duplicate at the boundary
// (the hot point wins where both tiers hold the same ts), and trips counts
// the same fixes. Without S3_ENDPOINT track serves the hot tier alone.
func TestHistoryAcrossTiers(t *testing.T) {
	rs := testenv.StartRedis(t)
	m := testenv.StartMinIO(t)
	client, err := minio.New(m.Addr, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.MakeBucket(context.Background(), tiersBucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	const tenant, device = "acme", "van-1"
	now := time.Now().UTC().Truncate(time.Second)

	// Cold: a point a minute from 3 days ago to 1 hour ago (3 date
	// partitions or 4); hot: a point a minute over the last 2 hours, so the
	// hour before the boundary is in both tiers (archived, not yet trimmed),
	// with the hot copy 0.001° further north.
	var cold, hot []tiersPoint
	for ts := now.Add(-72 * time.Hour); !ts.After(now.Add(-time.Hour)); ts = ts.Add(time.Minute) {
		cold = append(cold, tiersPoint{ts, 47.0 + float64(ts.Unix()%3600)*1e-5, 8.5})
	}
	for ts := now.Add(-2 * time.Hour); ts.Before(now); ts = ts.Add(time.Minute) {
		hot = append(hot, tiersPoint{ts, 47.001 + float64(ts.Unix()%3600)*1e-5, 8.5})
	}
	tiersArchive(t, client, tenant, device, cold)
	ingest := startFunction(t, "ingest", map[string]string{"REDIS_URL": rs.URL})
	service := token(t, tenant, auth.RoleService, "")
	for i := 0; i < len(hot); i += 50 {
		var batch []string
		for _, p := range hot[i:min(i+50, len(hot))] {
			batch = append(batch, fmt.Sprintf(`{"device":%q,"ts":%q,"lat":%v,"lon":%v}`, device, p.ts.Format(time.RFC3339), p.lat, p.lon))
		}
		r := call(t, http.MethodPost, ingest.URL, service, hdr("Content-Type", "application/json"), []byte("["+strings.Join(batch, ",")+"]"))
		if r.Status != http.StatusAccepted && r.Status != http.StatusOK {
			t.Fatalf("ingest: %d %s", r.Status, r.Body)
		}
	}
	boundary := hot[0].ts
	coldOnly := 0
	for _, p := range cold {
		if p.ts.Before(boundary) {
			coldOnly++
		}
	}
	total := coldOnly + len(hot)

	env := map[string]string{"REDIS_URL": rs.URL, "S3_ENDPOINT": m.Endpoint, "S3_BUCKET": tiersBucket,
		"S3_ACCESS_KEY": m.AccessKey, "S3_SECRET_KEY": m.SecretKey}
	tr := startFunction(t, "track", env)
	viewer := token(t, tenant, auth.RoleViewer, "")

	// checkTrack checks a whole history: every minute once, in order, the
	// hot copy from the boundary on.
	checkTrack := func(t *testing.T, what string, ts []time.Time, lats []float64) {
		t.Helper()
		if len(ts) != total {
			t.Fatalf("%s: %d points, want %d (%d archived only + %d hot)", what, len(ts), total, coldOnly, len(hot))
		}
		for i := range ts {
			if i > 0 && ts[i].Sub(ts[i-1]) != time.Minute {
				t.Fatalf("%s: point %d at %s follows %s", what, i, ts[i], ts[i-1])
			}
			fromHot := lats[i] >= 47.001-1e-9+float64(ts[i].Unix()%3600)*1e-5
			if fromHot != !ts[i].Before(boundary) {
				t.Fatalf("%s: point at %s (lat %v) from the hot tier: %v", what, ts[i], lats[i], fromHot)
			}
		}
	}

	t.Run("pages cross the boundary", func(t *testing.T) {
		var ts []time.Time
		var lats []float64
		cursor, pages := "", 0
		for {
			url := tr.URL + "?device=" + device + "&limit=700"
			if cursor != "" {
				url += "&cursor=" + cursor
			}
			r := call(t, http.MethodGet, url, viewer, nil, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("page %d: %d %s", pages, r.Status, r.Body)
			}
			var page tiersPage
			r.JSON(t, &page)
			for _, p := range page.Points {
				ts, lats = append(ts, p.TS), append(lats, p.Lat)
			}
			pages++
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		checkTrack(t, "paged", ts, lats)
		if want := (total + 699) / 700; pages != want {
			t.Fatalf("%d pages, want %d", pages, want)
		}
	})

	t.Run("a range inside the overlap", func(t *testing.T) {
		from, to := boundary.Add(-30*time.Minute), boundary.Add(30*time.Minute)
		r := call(t, http.MethodGet, fmt.Sprintf("%s?device=%s&from=%d&to=%d", tr.URL, device, from.Unix(), to.Unix()), viewer, nil, nil)
		var page tiersPage
		r.JSON(t, &page)
		if r.Status != http.StatusOK || len(page.Points) != 61 || !page.Points[0].TS.Equal(from) || !page.Points[60].TS.Equal(to) {
			t.Fatalf("%d: %d points", r.Status, len(page.Points))
		}
	})

	t.Run("whole range in every format", func(t *testing.T) {
		r := call(t, http.MethodGet, tr.URL+"?device="+device+"&all=true", viewer, nil, nil)
		var page tiersPage
		r.JSON(t, &page)
		var ts []time.Time
		var lats []float64
		for _, p := range page.Points {
			ts, lats = append(ts, p.TS), append(lats, p.Lat)
		}
		checkTrack(t, "json", ts, lats)
		if r.Header.Get("X-Next-Cursor") != "" || page.Next != "" {
			t.Fatalf("a whole range has a next page: %q", r.Header.Get("X-Next-Cursor"))
		}

		r = call(t, http.MethodGet, tr.URL+"?device="+device+"&all=true&format=geojson", viewer, nil, nil)
		var fc struct {
			Features []struct {
				Geometry struct {
					Coordinates [][]float64 `json:"coordinates"`
				} `json:"geometry"`
				Properties struct {
					CoordTimes []time.Time `json:"coordTimes"`
				} `json:"properties"`
			} `json:"features"`
		}
		if err := json.Unmarshal(r.Body, &fc); err != nil || len(fc.Features) != 1 {
			t.Fatalf("geojson: %v %.200s", err, r.Body)
		}
		lats = lats[:0]
		for _, c := range fc.Features[0].Geometry.Coordinates {
			lats = append(lats, c[1])
		}
		checkTrack(t, "geojson", fc.Features[0].Properties.CoordTimes, lats)

		r = call(t, http.MethodGet, tr.URL+"?device="+device+"&all=true&format=gpx", viewer, nil, nil)
		var doc struct {
			Points []struct {
				Lat  float64   `xml:"lat,attr"`
				Time time.Time `xml:"time"`
			} `xml:"trk>trkseg>trkpt"`
		}
		if err := xml.Unmarshal(r.Body, &doc); err != nil {
			t.Fatalf("gpx: %v", err)
		}
		ts, lats = ts[:0], lats[:0]
		for _, p := range doc.Points {
			ts, lats = append(ts, p.Time), append(lats, p.Lat)
		}
		checkTrack(t, "gpx", ts, lats)
	})

	t.Run("simplified for a map", func(t *testing.T) {
		r := call(t, http.MethodGet, tr.URL+"?device="+device+"&all=true&max_points=100", viewer, nil, nil)
		var page tiersPage
		r.JSON(t, &page)
		if r.Status != http.StatusOK || len(page.Points) > 100 || len(page.Points) < 2 ||
			!page.Points[0].TS.Equal(cold[0].ts) || !page.Points[len(page.Points)-1].TS.Equal(hot[len(hot)-1].ts) {
			t.Fatalf("%d: %d points", r.Status, len(page.Points))
		}
	})

	t.Run("trips reads both tiers", func(t *testing.T) {
		trips := startFunction(t, "trips", env)
		r := call(t, http.MethodGet, trips.URL+"?device="+device, viewer, nil, nil)
		var rep struct {
			Fixes int `json:"fixes"`
		}
		r.JSON(t, &rep)
		if r.Status != http.StatusOK || rep.Fixes != total {
			t.Fatalf("trips: %d, %d fixes, want %d", r.Status, rep.Fixes, total)
		}
	})

	t.Run("without an archive tier", func(t *testing.T) {
		hotOnly := startFunction(t, "track", map[string]string{"REDIS_URL": rs.URL})
		r := call(t, http.MethodGet, hotOnly.URL+"?device="+device+"&all=true", viewer, nil, nil)
		var page tiersPage
		r.JSON(t, &page)
		if r.Status != http.StatusOK || len(page.Points) != len(hot) || !page.Points[0].TS.Equal(boundary) {
			t.Fatalf("%d: %d points, want the %d hot ones", r.Status, len(page.Points), len(hot))
		}
	})

	t.Run("archive down", func(t *testing.T) {
		m.Stop()
		r := call(t, http.MethodGet, tr.URL+"?device="+device+"&limit=10", viewer, nil, nil)
		if r.Status < 500 || !strings.Contains(string(r.Body), "archived history") {
			t.Fatalf("with MinIO stopped: %d %s", r.Status, r.Body)
		}
	})
}
