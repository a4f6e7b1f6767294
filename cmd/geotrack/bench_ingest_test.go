package main

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/sender"
	"github.com/geotrack/geotrack/internal/testenv"
)

func TestParseRequestsPerSecond(t *testing.T) {
	cases := []struct {
		out  string
		want float64
		err  bool
	}{
		{"GEOADD bench:geo 13.36 38.11 m:__rand_int__: rps=0.0 (overall: nan) avg_msec=nan (overall: nan)\r" +
			"GEOADD bench:geo 13.36 38.11 m:__rand_int__: 812345.67 requests per second, p50=0.767 msec\n", 812345.67, false},
		{"GEOADD: 90909.09 requests per second\n", 90909.09, false},
		{"PING_INLINE: 1 requests per second\nGEOADD: 2000 requests per second\n", 2000, false},
		{"Could not connect to Redis at 127.0.0.1:1: Connection refused\n", 0, true},
	}
	for _, c := range cases {
		got, err := parseRequestsPerSecond([]byte(c.out))
		if got != c.want || (err != nil) != c.err {
			t.Errorf("parse(%q) = %g, %v; want %g, error %v", c.out, got, err, c.want, c.err)
		}
	}
}

func TestQuantile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	cases := []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.9, 90 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}}
	for _, c := range cases {
		if got := quantile(ds, c.q); got != c.want {
			t.Errorf("quantile(%g) = %s, want %s", c.q, got, c.want)
		}
	}
	if ds[0] != 100*time.Millisecond {
		t.Fatal("quantile sorted its input in place")
	}
	if quantile(nil, 0.5) != 0 {
		t.Fatal("quantile of nothing")
	}
}

func TestFormatting(t *testing.T) {
	cases := []struct{ got, want string }{
		{fmtThousands(0), "0"},
		{fmtThousands(999.6), "1,000"},
		{fmtThousands(1234567.2), "1,234,567"},
		{fmtThousands(-1234), "-1,234"},
		{fmtMiB(2048), "2.0 MiB"},
		{fmtMiB(0), "n/a"},
		{quoteArgs([]string{"bench", "ingest", "--out", "a b.md", ""}), "bench ingest --out 'a b.md' ''"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestRedisTargetIsLoopbackOnly(t *testing.T) {
	cases := []struct {
		url  string
		want redisAddr
		err  bool
	}{
		{"redis://127.0.0.1:6380/0", redisAddr{"127.0.0.1", "6380", ""}, false},
		{"redis://:pw@localhost/0", redisAddr{"127.0.0.1", "6379", "pw"}, false},
		{"redis://10.0.0.5:6379/0", redisAddr{}, true},
		{"redis://redis.example.com:6379", redisAddr{}, true},
	}
	for _, c := range cases {
		got, err := redisTarget(c.url)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("redisTarget(%q) = %+v, %v; want %+v, error %v", c.url, got, err, c.want, c.err)
		}
	}
}

func TestFixSourceNeverRepeats(t *testing.T) {
	src, err := newFixSource(50)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	now := time.Now()
	// Several cycles' worth, in uneven chunks.
	for range 130 {
		for _, f := range src.next(397) {
			key := f.Device + "@" + fix.FormatTime(f.TS)
			if seen[key] {
				t.Fatalf("fix %s handed out twice", key)
			}
			seen[key] = true
			if err := fix.Validate(&f, now); err != nil {
				t.Fatalf("invalid fix: %v", err)
			}
		}
	}
	if len(seen) != 130*397 {
		t.Fatalf("%d distinct fixes, want %d", len(seen), 130*397)
	}
}

func TestMarkdownVerdicts(t *testing.T) {
	r := &benchReport{command: "geotrack bench ingest", date: time.Unix(0, 0).UTC(), cpu: "CPU", machine: "m", goVersion: "go",
		cfg:     benchIngestConfig{duration: time.Second, batchSize: 1000, batchWorkers: 4, singleWorkers: 64, geoaddRequests: 1000},
		batched: loadResult{PerSec: 700}, single: loadResult{PerSec: 400},
		geoaddPiped: 1000, geoaddUnpiped: 1000, coldStart: []time.Duration{time.Millisecond}}
	md := r.markdown()
	for _, want := range []string{"Batched ÷ pipelined GEOADD | 70.0 % | ≥ 60 % | **pass**", "Single ÷ unpipelined GEOADD | 40.0 % | ≥ 50 % | **miss**",
		"`geotrack bench ingest`", "median 1.00 ms"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	r.geoaddPiped = 0
	if md := r.markdown(); !strings.Contains(md, "| n/a |") {
		t.Errorf("a missing figure must give n/a, not a verdict:\n%s", md)
	}
}

func TestStartRedisServerStopsByPID(t *testing.T) {
	rs, err := startRedisServer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pid := rs.PID
	if _, err := redisTarget(rs.url); err != nil {
		t.Fatal(err)
	}
	rs.stop()
	rs.stop() // idempotent
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("redis-server %d still running after stop", pid)
	}
	if _, err := os.Stat(rs.Dir); !os.IsNotExist(err) {
		t.Fatalf("data dir %s left behind: %v", rs.Dir, err)
	}
}

// The measuring parts against real peers: redis-benchmark against a real
// redis-server, and the load loop against the real ingest function.
func TestGeoaddBenchAndLoadRun(t *testing.T) {
	r := testenv.StartRedis(t)
	target, err := redisTarget(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, pipeline := range []int{0, 16} {
		rps, err := geoaddBench(context.Background(), target, 2000, pipeline)
		if err != nil || rps <= 0 {
			t.Fatalf("pipeline %d: %g requests/s, %v", pipeline, rps, err)
		}
	}

	in := startIngest(t)
	src, err := newFixSource(100)
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []loadSpec{
		{mode: sender.ModeBatch, batch: 200, workers: 2},
		{mode: sender.ModeBinary, batch: 1, workers: 8},
	} {
		spec.url, spec.token, spec.warmup, spec.duration = in.url, in.token, 100*time.Millisecond, 500*time.Millisecond
		res, err := runLoad(context.Background(), spec, src)
		if err != nil {
			t.Fatalf("%s: %v", spec.mode, err)
		}
		if res.Fixes == 0 || res.Duplicates != 0 || res.Rejected != 0 || res.Errors != 0 || res.PerSec <= 0 {
			t.Fatalf("%s: %+v", spec.mode, res)
		}
	}
	devices, err := in.store.Devices(context.Background(), in.tenant)
	if err != nil || len(devices) == 0 {
		t.Fatalf("no devices stored: %v", err)
	}

	// A rejected token stops the run at once with the server's answer.
	_, err = runLoad(context.Background(), loadSpec{url: in.url, token: "nope", mode: sender.ModeBatch, batch: 10, workers: 2,
		warmup: 10 * time.Millisecond, duration: 10 * time.Second}, src)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want a 401", err)
	}
}

func TestLoadNearby(t *testing.T) {
	r := testenv.StartRedis(t)
	client, err := redisstore.Open(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	store := redisstore.New(client, redisstore.Options{})
	const devices = 12_001
	km := nearbyRegionKm(devices)
	if err := loadNearby(context.Background(), store, "nb", devices, km); err != nil {
		t.Fatal(err)
	}
	ids, err := store.Devices(context.Background(), "nb")
	if err != nil || len(ids) != devices {
		t.Fatalf("%d devices stored (%v), want %d", len(ids), err, devices)
	}
	// The density is chosen so a 1 km circle in the region finds tens to
	// hundreds of devices.
	found, err := store.Nearby(context.Background(), "nb", 51.5074, -0.1278, 1000, 10000)
	if err != nil || len(found) < 20 || len(found) > 600 {
		t.Fatalf("1 km around the centre: %d devices (%v), want tens to hundreds", len(found), err)
	}
}
