package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/poll"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

const archiveBucket = "e2e-archive"

// archiveEnv is one Redis, one MinIO (with a KMS key) and the archiver's
// environment for them.
type archiveEnv struct {
	redis *testenv.Redis
	minio *testenv.MinIO
	store *redisstore.Store
	s3    *minio.Client
	env   map[string]string
}

func startArchiveEnv(t *testing.T, workers int) *archiveEnv {
	t.Helper()
	e := &archiveEnv{redis: testenv.StartRedis(t), minio: testenv.StartMinIO(t)}
	client, err := redisstore.Open(e.redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	e.store = redisstore.New(client, redisstore.Options{})
	e.s3, err = minio.New(e.minio.Addr, &minio.Options{Creds: credentials.NewStaticV4(e.minio.AccessKey, e.minio.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	e.env = map[string]string{
		"REDIS_URL": e.redis.URL, "S3_ENDPOINT": e.minio.Endpoint, "S3_BUCKET": archiveBucket,
		"S3_ACCESS_KEY": e.minio.AccessKey, "S3_SECRET_KEY": e.minio.SecretKey,
		"HOT_RETENTION": "48h", "ARCHIVE_WORKERS": fmt.Sprint(workers), "LOG_LEVEL": "info",
	}
	return e
}

// archiveFixes makes perDay points a day for each device over days days
// ending now: coordinates of 7 decimals mostly, a full double now and then
// (the exact-value path), attrs on some.
func archiveFixes(devices, days, perDay int, now time.Time) map[string][]fix.Fix {
	out := map[string][]fix.Fix{}
	step := 24 * time.Hour / time.Duration(perDay)
	start := now.Add(-time.Duration(days) * 24 * time.Hour).Truncate(time.Second)
	for d := range devices {
		device := fmt.Sprintf("truck:%02d", d)
		for i := range days * perDay {
			ts := start.Add(time.Duration(i) * step)
			if !ts.Before(now) {
				break
			}
			f := fix.Fix{Device: device, TS: ts,
				Lat: float64(int64(525200000+i*37+d)) / 1e7, Lon: float64(int64(134050000-i*29)) / 1e7,
				Alt: fix.Float(float64(300+i%50) / 10), Speed: fix.Float(float64(i%120) / 4)}
			if i%97 == 0 {
				f.Lat += 1e-9 // beyond 7 decimals
				f.Attrs = map[string]string{"note": fmt.Sprintf("p%d", i)}
			}
			out[device] = append(out[device], f)
		}
	}
	return out
}

func (e *archiveEnv) load(t *testing.T, fixes map[string][]fix.Fix, now time.Time) int {
	t.Helper()
	n := 0
	for _, dev := range fixes {
		for i := 0; i < len(dev); i += 2000 {
			batch := dev[i:min(i+2000, len(dev))]
			res, err := e.store.Save(context.Background(), "acme", []redisstore.Group{{Fixes: batch}}, now)
			if err != nil {
				t.Fatal(err)
			}
			if res.Accepted != len(batch) {
				t.Fatalf("stored %d of %d", res.Accepted, len(batch))
			}
			n += len(batch)
		}
	}
	return n
}

// archivedRow is the archive's schema as an analyst's tool sees it,
// declared here and read with parquet-go's schema-mapping reader, not
// through internal/archive: DECIMAL columns, read here as their unscaled
// integers (lat, lon 7 decimals; alt, speed as the schema says).
type archivedRow struct {
	Device string  `parquet:"device"`
	TS     int64   `parquet:"ts"`
	LatE7  int32   `parquet:"lat,decimal(7:9)"`
	LonE7  int64   `parquet:"lon,decimal(7:10)"`
	AltDM  *int32  `parquet:"alt,decimal(1:9)"`
	Speed  *int32  `parquet:"speed,decimal(2:9)"`
	Attrs  *string `parquet:"attrs"`
}

// archiveDecimals are the DECIMAL(precision, scale) columns of an archive
// object, as DuckDB or pandas see them.
var archiveDecimals = map[string][2]int{"lat": {9, 7}, "lon": {10, 7}, "alt": {9, 1}, "acc": {9, 1}, "speed": {9, 2}, "heading": {9, 2}, "battery": {9, 4}}

// readArchive reads every object of the bucket independently of geotrack's
// decoder and checks each object's key and encryption.
func (e *archiveEnv) readArchive(t *testing.T) map[string][]archivedRow {
	t.Helper()
	ctx := context.Background()
	out := map[string][]archivedRow{}
	for obj := range e.s3.ListObjects(ctx, archiveBucket, minio.ListObjectsOptions{Prefix: "tenant=", Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		info, err := e.s3.StatObject(ctx, archiveBucket, obj.Key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if sse := info.Metadata.Get("X-Amz-Server-Side-Encryption"); sse != "AES256" {
			t.Errorf("%s: not encrypted with SSE-S3 (X-Amz-Server-Side-Encryption %q)", obj.Key, sse)
		}
		r, err := e.s3.GetObject(ctx, archiveBucket, obj.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", obj.Key, err)
		}
		for name, ps := range archiveDecimals {
			col, ok := f.Schema().Lookup(name)
			if !ok {
				t.Fatalf("%s: no column %s", obj.Key, name)
			}
			lt := col.Node.Type().LogicalType()
			if dec, ok := lt.Value.(*format.DecimalType); !ok || int(dec.Precision) != ps[0] || int(dec.Scale) != ps[1] {
				t.Errorf("%s: column %s is %v, want DECIMAL(%d,%d)", obj.Key, name, lt, ps[0], ps[1])
			}
		}
		for _, col := range f.Metadata().RowGroups[0].Columns {
			if codec := col.MetaData.Codec.String(); codec != "ZSTD" {
				t.Errorf("%s: column %v compressed with %s", obj.Key, col.MetaData.PathInSchema, codec)
			}
		}
		reader := parquet.NewReader(bytes.NewReader(data))
		var rows []archivedRow
		for {
			var row archivedRow
			if err := reader.Read(&row); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", obj.Key, err)
			}
			rows = append(rows, row)
		}
		reader.Close()
		if len(rows) == 0 {
			t.Fatalf("%s: empty", obj.Key)
		}
		day := time.UnixMilli(rows[0].TS).UTC().Format("2006-01-02")
		wantKey := "tenant=acme/device=" + strings.ReplaceAll(rows[0].Device, ":", "%3A") + "/date=" + day + "/part-0.parquet"
		if obj.Key != wantKey {
			t.Errorf("object %s holds %s of %s: want key %s", obj.Key, rows[0].Device, day, wantKey)
		}
		out[rows[0].Device] = append(out[rows[0].Device], rows...)
	}
	return out
}

// checkTiers asserts that hot ∪ archive is exactly want, each point once
// in the archive, every due point archived when caughtUp, and archived
// values equal to the fixes (coordinates through lat_e7/1e7).
func (e *archiveEnv) checkTiers(t *testing.T, want map[string][]fix.Fix, cutoff time.Time, caughtUp bool) (archived int) {
	t.Helper()
	cold := e.readArchive(t)
	for device, fixes := range want {
		page, err := e.store.History(context.Background(), "acme", device, time.Time{}, time.Time{}, redisstore.MaxLimit, "")
		if err != nil {
			t.Fatal(err)
		}
		if page.Next != "" {
			t.Fatal("test data too large for one page")
		}
		seen := map[int64]int{}
		for _, r := range cold[device] {
			seen[r.TS]++
			if seen[r.TS] > 1 {
				t.Fatalf("%s ts %d archived twice", device, r.TS)
			}
		}
		hot := map[int64]bool{}
		for _, f := range page.Fixes {
			hot[f.TS.UnixMilli()] = true
			if caughtUp && f.TS.Before(cutoff) {
				t.Fatalf("%s: due point %s still hot after a clean pass", device, f.TS)
			}
		}
		byTS := map[int64]archivedRow{}
		for _, r := range cold[device] {
			byTS[r.TS] = r
		}
		for _, f := range fixes {
			ms := f.TS.UnixMilli()
			r, inCold := byTS[ms]
			if !inCold && !hot[ms] {
				t.Fatalf("%s: point %s lost", device, f.TS)
			}
			if inCold {
				if !f.TS.Before(cutoff) {
					t.Fatalf("%s: point %s archived though not due", device, f.TS)
				}
				if r.LatE7 != int32(math.Round(f.Lat*1e7)) || r.LonE7 != int64(math.Round(f.Lon*1e7)) || r.AltDM == nil || *r.AltDM != int32(math.Round(*f.Alt*10)) {
					t.Fatalf("%s %s: archived %+v, fix %+v", device, f.TS, r, f)
				}
				if (f.Attrs != nil) != (r.Attrs != nil) || (r.Attrs != nil && !strings.Contains(*r.Attrs, `"note":"`+f.Attrs["note"]+`"`)) {
					t.Fatalf("%s %s: attrs %v, fix attrs %v", device, f.TS, r.Attrs, f.Attrs)
				}
			}
		}
		if n := len(cold[device]) + len(page.Fixes); !caughtUp && n < len(fixes) {
			t.Fatalf("%s: %d points across tiers, want at least %d", device, n, len(fixes))
		}
		if caughtUp && len(cold[device])+len(page.Fixes) != len(fixes) {
			t.Fatalf("%s: %d archived + %d hot, want %d", device, len(cold[device]), len(page.Fixes), len(fixes))
		}
		archived += len(cold[device])
	}
	return archived
}

type archivePass struct {
	Enabled   bool   `json:"enabled"`
	Points    int    `json:"points"`
	Objects   int    `json:"objects"`
	OldestDue string `json:"oldest_due"`
}

func runPass(t *testing.T, p *proc, tok string) (int, archivePass) {
	t.Helper()
	resp := call(t, http.MethodPost, p.URL+"/", tok, hdr("Content-Type", "application/json"), []byte(`{}`))
	var out archivePass
	if resp.Status == http.StatusOK {
		resp.JSON(t, &out)
	}
	return resp.Status, out
}

func archiveCutoff(now time.Time) time.Time {
	d := now.Add(-48 * time.Hour).UTC()
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
}

// TestArchiveMultiDayHistory archives four days of history: whole days
// older than HOT_RETENTION move to MinIO as SSE-S3 encrypted zstd Parquet,
// one object per device and day, readable without geotrack's decoder, and
// leave Redis; a second pass finds nothing to do.
func TestArchiveMultiDayHistory(t *testing.T) {
	e := startArchiveEnv(t, 2)
	now := time.Now().UTC()
	fixes := archiveFixes(3, 4, 24*60, now)
	e.load(t, fixes, now)
	cutoff := archiveCutoff(now)
	due := 0
	for _, dev := range fixes {
		for _, f := range dev {
			if f.TS.Before(cutoff) {
				due++
			}
		}
	}
	p := startFunction(t, "archiver", e.env)
	svc := token(t, "acme", auth.RoleService, "")
	status, res := runPass(t, p, svc)
	if status != http.StatusOK || !res.Enabled || res.Points != due {
		t.Fatalf("pass: %d %+v, want 200 with %d points", status, res, due)
	}
	if got := e.checkTiers(t, fixes, cutoff, true); got != due {
		t.Fatalf("%d points archived, want %d", got, due)
	}
	if status, res := runPass(t, p, svc); status != http.StatusOK || res.Points != 0 || res.Objects != 0 {
		t.Fatalf("second pass: %d %+v, want nothing to do", status, res)
	}
	metrics := call(t, http.MethodGet, p.URL+"/metrics", "", nil, nil)
	for _, want := range []string{fmt.Sprintf("geotrack_archive_points_total %d", due), "geotrack_archive_lag_seconds 0", "geotrack_archive_failures_total 0"} {
		if !strings.Contains(string(metrics.Body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestArchiverKilledMidRunLosesNothing kills the archiver (SIGKILL) while
// a pass is writing, then runs a new process: no point is lost, none is
// twice in the archive (a day written but not trimmed is merged into its
// object again), and the rerun leaves each point in exactly one tier.
func TestArchiverKilledMidRunLosesNothing(t *testing.T) {
	e := startArchiveEnv(t, 1)
	now := time.Now().UTC()
	fixes := archiveFixes(40, 4, 24*60, now)
	e.load(t, fixes, now)
	cutoff := archiveCutoff(now)
	svc := token(t, "acme", auth.RoleService, "")

	p := startFunction(t, "archiver", e.env)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, p.URL+"/", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+svc)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	waitObjects(t, e, 3)
	p.kill()
	e.checkTiers(t, fixes, cutoff, false)
	if remaining := e.dueLeft(t, fixes, cutoff); remaining == 0 {
		t.Fatal("the pass finished before the kill: nothing was tested")
	}

	p2 := startFunction(t, "archiver", e.env)
	// The killed pass's lock holds until its TTL (a minute): a pass now
	// is refused. Expire the lock as time would, then rerun.
	if status, _ := runPass(t, p2, svc); status != http.StatusConflict {
		t.Fatalf("pass while the killed pass's lock holds: %d, want 409", status)
	}
	if err := e.store.Client().Del(context.Background(), "gt:{archiver}:lock").Err(); err != nil {
		t.Fatal(err)
	}
	if status, _ := runPass(t, p2, svc); status != http.StatusOK {
		t.Fatalf("pass after the kill: %d", status)
	}
	e.checkTiers(t, fixes, cutoff, true)
}

// TestArchiverMinIOStoppedMidRun stops MinIO during a pass: the pass fails
// with a 5xx, Redis keeps every point not verified in the archive, and the
// pass after MinIO is back catches up.
func TestArchiverMinIOStoppedMidRun(t *testing.T) {
	e := startArchiveEnv(t, 1)
	now := time.Now().UTC()
	fixes := archiveFixes(40, 4, 24*60, now)
	e.load(t, fixes, now)
	cutoff := archiveCutoff(now)
	svc := token(t, "acme", auth.RoleService, "")
	p := startFunction(t, "archiver", e.env)

	var (
		wg     sync.WaitGroup
		status int
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		req, _ := http.NewRequest(http.MethodPost, p.URL+"/", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+svc)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
	}()
	waitObjects(t, e, 3)
	e.minio.Stop()
	wg.Wait()
	if status < 500 {
		t.Fatalf("pass with MinIO stopped: status %d, want 5xx", status)
	}
	if left := e.dueLeft(t, fixes, cutoff); left == 0 {
		t.Fatal("the pass finished before MinIO stopped: nothing was tested")
	}
	metrics := call(t, http.MethodGet, p.URL+"/metrics", "", nil, nil)
	if !strings.Contains(string(metrics.Body), "geotrack_archive_failures_total 1") {
		t.Errorf("failure not counted:\n%s", metrics.Body)
	}
	if err := e.minio.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.checkTiers(t, fixes, cutoff, false)
	if status, _ := runPass(t, p, svc); status != http.StatusOK {
		t.Fatalf("pass after MinIO is back: %d", status)
	}
	e.checkTiers(t, fixes, cutoff, true)
}

// waitObjects waits until the bucket holds n objects.
func waitObjects(t *testing.T, e *archiveEnv, n int) {
	t.Helper()
	err := poll.Until(context.Background(), 60*time.Second, 5*time.Millisecond, func(ctx context.Context) error {
		count := 0
		for obj := range e.s3.ListObjects(ctx, archiveBucket, minio.ListObjectsOptions{Prefix: "tenant=", Recursive: true}) {
			if obj.Err != nil {
				return obj.Err
			}
			count++
		}
		if count < n {
			return fmt.Errorf("%d objects", count)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// dueLeft counts the due points still in Redis.
func (e *archiveEnv) dueLeft(t *testing.T, fixes map[string][]fix.Fix, cutoff time.Time) int {
	t.Helper()
	n := 0
	devices := make([]string, 0, len(fixes))
	for d := range fixes {
		devices = append(devices, d)
	}
	sort.Strings(devices)
	for _, d := range devices {
		page, err := e.store.History(context.Background(), "acme", d, time.Time{}, cutoff.Add(-time.Millisecond), redisstore.MaxLimit, "")
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Fixes)
	}
	return n
}

// TestArchiverRoleTenantMatrix: service and admin tokens of any tenant run
// a pass (it covers every tenant and answers counts only); viewer and
// device tokens are refused, as are broken credentials, bad methods and
// parameters, and a refused request changes nothing.
func TestArchiverRoleTenantMatrix(t *testing.T) {
	e := startArchiveEnv(t, 2)
	now := time.Now().UTC()
	e.load(t, archiveFixes(1, 3, 24, now), now)
	p := startFunction(t, "archiver", e.env)
	before := snapshot(t, e.store.Client())
	cases := []struct {
		name   string
		method string
		query  string
		tok    string
		status int
		want   string
	}{
		{"viewer", http.MethodPost, "", token(t, "acme", auth.RoleViewer, ""), http.StatusForbidden, "service or admin"},
		{"device", http.MethodPost, "", token(t, "acme", auth.RoleDevice, "truck:00"), http.StatusForbidden, "service or admin"},
		{"no token", http.MethodPost, "", "", http.StatusUnauthorized, "unauthenticated"},
		{"forged token", http.MethodPost, "", "forged", http.StatusUnauthorized, "unauthenticated"},
		{"other secret", http.MethodPost, "", signedWith(t, "another-secret-0123456789abcdef"), http.StatusUnauthorized, "unauthenticated"},
		{"GET", http.MethodGet, "", token(t, "acme", auth.RoleService, ""), http.StatusMethodNotAllowed, "method"},
		{"unknown parameter", http.MethodPost, "?tenant=globex", token(t, "acme", auth.RoleService, ""), http.StatusBadRequest, "tenant"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := call(t, c.method, p.URL+"/"+c.query, c.tok, nil, nil)
			if resp.Status != c.status || !strings.Contains(string(resp.Body), c.want) {
				t.Fatalf("%d %s, want %d naming %q", resp.Status, resp.Body, c.status, c.want)
			}
			if after := snapshot(t, e.store.Client()); after != before {
				t.Fatal("a refused request changed Redis")
			}
		})
	}
	for _, ok := range []struct{ name, tok string }{
		{"admin of another tenant", token(t, "globex", auth.RoleAdmin, "")},
		{"service", token(t, "acme", auth.RoleService, "")},
	} {
		if status, _ := runPass(t, p, ok.tok); status != http.StatusOK {
			t.Fatalf("%s: status %d", ok.name, status)
		}
	}
}

func signedWith(t *testing.T, secret string) string {
	t.Helper()
	tok, err := auth.Sign([]byte(secret), auth.Principal{Tenant: "acme", Role: auth.RoleService}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
