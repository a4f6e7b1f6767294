package main

import (
	"context"
	"flag"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/functions"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/gpx"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/sender"
	"github.com/geotrack/geotrack/internal/testenv"
)

func TestReorderArgs(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("device", "", "")
	fs.Float64("speed", 0, "")
	fs.String("center", "", "")
	fs.Bool("now", false, "")
	cases := []struct {
		name string
		in   []string
		want []string
	}{
		{"file first", []string{"a.gpx", "--device", "d", "--speed", "2"}, []string{"--device", "d", "--speed", "2", "--", "a.gpx"}},
		{"file last", []string{"--device", "d", "a.gpx"}, []string{"--device", "d", "--", "a.gpx"}},
		{"file between", []string{"--device", "d", "a.gpx", "-speed=3"}, []string{"--device", "d", "-speed=3", "--", "a.gpx"}},
		{"bool takes no value", []string{"--now", "a.gpx", "--device", "d"}, []string{"--now", "--device", "d", "--", "a.gpx"}},
		{"value looks like a flag", []string{"--center", "-33.9,151.2", "f"}, []string{"--center", "-33.9,151.2", "--", "f"}},
		{"after --", []string{"--device", "d", "--", "--weird.gpx"}, []string{"--device", "d", "--", "--weird.gpx"}},
		{"stdin dash is positional", []string{"-", "--device", "d"}, []string{"--device", "d", "--", "-"}},
		{"no positional", []string{"--device", "d"}, []string{"--device", "d"}},
		{"unknown flag left for flag to report", []string{"--nope", "a.gpx"}, []string{"--nope", "--", "a.gpx"}},
		{"missing value at the end", []string{"a.gpx", "--device"}, []string{"--device", "--", "a.gpx"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := reorderArgs(fs, c.in); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("reorderArgs(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
	// And package flag really parses the result.
	fs2 := flag.NewFlagSet("y", flag.ContinueOnError)
	dev := fs2.String("device", "", "")
	now := fs2.Bool("now", false, "")
	if err := fs2.Parse(reorderArgs(fs2, []string{"track.gpx", "--now", "--device", "bus-7"})); err != nil {
		t.Fatal(err)
	}
	if *dev != "bus-7" || !*now || fs2.NArg() != 1 || fs2.Arg(0) != "track.gpx" {
		t.Fatalf("parsed device=%q now=%v args=%q", *dev, *now, fs2.Args())
	}
}

func TestRestampFixesEndsNow(t *testing.T) {
	base := time.Date(2016, 1, 31, 16, 30, 0, 0, time.UTC)
	in := []fix.Fix{{TS: base}, {TS: base.Add(10 * time.Second)}, {TS: base.Add(40 * time.Second)}}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	want := []time.Duration{-40 * time.Second, -30 * time.Second, 0} // offsets from now
	out := restampFixes(in, now)
	for i, f := range out {
		if !f.TS.Equal(now.Add(want[i])) {
			t.Errorf("fix %d at %s, want now%+v", i, f.TS, want[i])
		}
	}
	if !in[0].TS.Equal(base) {
		t.Fatal("restampFixes modified its input")
	}
}

// sleepClock advances only when slept on.
type sleepClock struct{ now time.Time }

func (c *sleepClock) Now() time.Time { return c.now }

func (c *sleepClock) Sleep(ctx context.Context, d time.Duration) error {
	c.now = c.now.Add(d)
	return ctx.Err()
}

func TestPacedReplayTakesTrackDurationOverSpeed(t *testing.T) {
	recorded := time.Date(2016, 1, 31, 16, 30, 0, 0, time.UTC)
	var track []fix.Fix
	for s := 0; s <= 39*60; s += 3 { // 39 minutes, a fix every 3 s
		track = append(track, fix.Fix{Device: "runner-1", TS: recorded.Add(time.Duration(s) * time.Second), Lat: 51.5, Lon: -0.12})
	}
	cases := []struct {
		name    string
		speed   float64
		restamp bool
		want    time.Duration
	}{
		{"speed 10 restamped", 10, true, 234 * time.Second},
		{"speed 10 original stamps", 10, false, 234 * time.Second},
		{"real time", 1, true, 39 * time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := &sleepClock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
			start := clk.now
			var sent []fix.Fix
			send := func(_ context.Context, fixes []fix.Fix, _ func(int, int)) (sender.Totals, error) {
				for _, f := range fixes {
					if c.restamp && f.TS.After(clk.now) {
						t.Fatalf("fix stamped %s sent at %s: in the future", f.TS, clk.now)
					}
				}
				sent = append(sent, fixes...)
				return sender.Totals{Accepted: len(fixes)}, nil
			}
			r := replayer{send: send, batch: 100, speed: c.speed, restamp: c.restamp, clock: clk}
			tot, err := r.run(context.Background(), track, func(int, int) {})
			if err != nil {
				t.Fatal(err)
			}
			if tot.Accepted != len(track) || len(sent) != len(track) {
				t.Fatalf("accepted %d, sent %d, want %d", tot.Accepted, len(sent), len(track))
			}
			if took := clk.now.Sub(start); took != c.want {
				t.Fatalf("replay took %s of fake time, want %s", took, c.want)
			}
			if c.restamp {
				if !sent[0].TS.Equal(start) || !sent[len(sent)-1].TS.Equal(start.Add(c.want)) {
					t.Fatalf("restamped from %s to %s, want %s to %s", sent[0].TS, sent[len(sent)-1].TS, start, start.Add(c.want))
				}
			} else if !sent[0].TS.Equal(recorded) {
				t.Fatalf("first fix stamped %s, want the recorded %s", sent[0].TS, recorded)
			}
		})
	}
}

// ingestUnderTest is the real ingest function, built as `geotrack serve`
// builds it, served in-process over loopback against a real redis-server.
type ingestUnderTest struct {
	url, secret, tenant, token string
	store                      *redisstore.Store
}

func startIngest(t *testing.T) ingestUnderTest {
	t.Helper()
	r := testenv.StartRedis(t)
	secret := "test-secret-0123456789abcdef"
	t.Setenv("REDIS_URL", r.URL)
	t.Setenv(auth.SecretEnv, secret)
	spec, err := functions.Lookup("ingest")
	if err != nil {
		t.Fatal(err)
	}
	deps := &functions.Deps{}
	t.Cleanup(func() { deps.Close() })
	built, err := spec.Build(context.Background(), deps)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := httptest.NewServer(httpkit.Mux("ingest", built.Handler, httpkit.Options{Name: "ingest", Ready: built.Ready, Logger: logger}))
	t.Cleanup(srv.Close)
	testenv.WaitHTTP(t, srv.URL+"/_/ready", 10*time.Second)

	client, err := redisstore.Open(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	tenant := "acme"
	tok, err := auth.Sign([]byte(secret), auth.Principal{Tenant: tenant, Role: auth.RoleService}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ingestUnderTest{url: srv.URL + "/", secret: secret, tenant: tenant, token: tok,
		store: redisstore.New(client, redisstore.Options{})}
}

func (in ingestUnderTest) history(t *testing.T, device string) []fix.Fix {
	t.Helper()
	var all []fix.Fix
	cursor := ""
	for range 100 {
		page, err := in.store.History(context.Background(), in.tenant, device, time.Time{}, time.Time{}, 1000, cursor)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Fixes...)
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	return all
}

// recentTrack writes a GPX track of one simulated device that ends now.
func recentTrack(t *testing.T, n int) (string, []fix.Fix) {
	t.Helper()
	start := time.Now().Add(-time.Duration(n) * time.Second)
	fl, err := fleet.New(fleet.Config{Devices: 1, Seed: 3, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	fixes := fl.Advance(start.Add(time.Duration(n) * time.Second))
	path := filepath.Join(t.TempDir(), "track.gpx")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := gpx.Encode(f, "ignored", fixes); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, fixes
}

func TestReplayEndToEnd(t *testing.T) {
	in := startIngest(t)
	ctx := context.Background()

	t.Run("recorded track restamped to now", func(t *testing.T) {
		file := filepath.Join("..", "..", "testdata", "tracks", "run-with-laps.gpx")
		want, err := readGPX(file, "runner")
		if err != nil {
			t.Fatal(err)
		}
		// FILE after the flags and before: both parse.
		err = runReplay(ctx, []string{"--device", "runner", "--url", in.url, "--token", in.token, "--now", "--batch", "300", file})
		if err != nil {
			t.Fatal(err)
		}
		// The recording repeats a few timestamps; a device has one position
		// per instant, so those are stored once.
		distinct := map[time.Time]bool{}
		for _, f := range want {
			distinct[f.TS] = true
		}
		got := in.history(t, "runner")
		if len(got) != len(distinct) {
			t.Fatalf("stored %d fixes, the file has %d at distinct times", len(got), len(distinct))
		}
		// Restamping keeps the spacing: the stored track spans what the file does.
		if gotSpan, wantSpan := got[len(got)-1].TS.Sub(got[0].TS), want[len(want)-1].TS.Sub(want[0].TS); gotSpan != wantSpan {
			t.Fatalf("stored span %s, file span %s", gotSpan, wantSpan)
		}
		last, ok, err := in.store.Latest(ctx, in.tenant, "runner")
		if err != nil || !ok || last.Lat != want[len(want)-1].Lat || last.Lon != want[len(want)-1].Lon {
			t.Fatalf("latest %+v ok=%v err=%v, want the file's last point", last, ok, err)
		}
	})

	t.Run("resend is deduplicated", func(t *testing.T) {
		path, fixes := recentTrack(t, 120)
		args := []string{path, "--device", "car-1", "--url", in.url, "--token", in.token}
		if err := runReplay(ctx, args); err != nil {
			t.Fatal(err)
		}
		if err := runReplay(ctx, args); err != nil {
			t.Fatal(err)
		}
		got := in.history(t, "car-1")
		if len(got) != len(fixes) {
			t.Fatalf("after two replays %d fixes stored, want %d once", len(got), len(fixes))
		}
		for i := range got {
			if !got[i].TS.Equal(fixes[i].TS) || got[i].Lat != fixes[i].Lat {
				t.Fatalf("fix %d stored as %+v, sent %+v", i, got[i], fixes[i])
			}
		}
	})

	t.Run("paced", func(t *testing.T) {
		path, fixes := recentTrack(t, 10)
		if err := runReplay(ctx, []string{"--speed", "50", path, "--device", "car-2", "--url", in.url, "--token", in.token}); err != nil {
			t.Fatal(err)
		}
		if got := in.history(t, "car-2"); len(got) != len(fixes) {
			t.Fatalf("stored %d of %d fixes", len(got), len(fixes))
		}
	})

	t.Run("minted token", func(t *testing.T) {
		path, fixes := recentTrack(t, 5)
		err := runReplay(ctx, []string{path, "--device", "car-3", "--url", in.url, "--secret", in.secret, "--tenant", in.tenant})
		if err != nil {
			t.Fatal(err)
		}
		if got := in.history(t, "car-3"); len(got) != len(fixes) {
			t.Fatalf("stored %d of %d fixes", len(got), len(fixes))
		}
	})

	t.Run("bad token fails with the server's message", func(t *testing.T) {
		path, _ := recentTrack(t, 5)
		err := runReplay(ctx, []string{path, "--device", "car-4", "--url", in.url, "--token", "not-a-jwt"})
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("err = %v, want a 401", err)
		}
	})

	t.Run("usage errors", func(t *testing.T) {
		cases := [][]string{
			{"--device", "d", "--url", in.url, "--token", in.token},                      // no file
			{"x.gpx", "--url", in.url, "--token", in.token},                              // no device
			{"x.gpx", "y.gpx", "--device", "d", "--url", in.url},                         // two files
			{"missing.gpx", "--device", "d", "--url", in.url, "--token", "t"},            // unreadable
			{"x.gpx", "--device", "d", "--speed", "-1", "--url", in.url, "--token", "t"}, // negative speed
		}
		for _, args := range cases {
			if err := runReplay(ctx, args); err == nil {
				t.Errorf("replay %q: want an error", args)
			}
		}
	})
}
