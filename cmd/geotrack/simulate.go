package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/geo"
	"github.com/geotrack/geotrack/internal/sender"
)

func init() {
	register(command{name: "simulate", summary: "stream simulated devices to ingest: --devices N --rate R --url U [--duration D]", run: runSimulate})
}

// defaultIngestURL is ingest under `geotrack dev`.
const defaultIngestURL = "http://127.0.0.1:8080/function/ingest"

// sendFlags are the flags simulate, replay and import share: where to send
// and with which credentials.
type sendFlags struct {
	url, token, secret, tenant *string
	batch                      *int
}

func addSendFlags(fs *flag.FlagSet, defaultBatch int) *sendFlags {
	return &sendFlags{
		url:    fs.String("url", getenvDefault("GEOTRACK_URL", defaultIngestURL), "ingest URL (default $GEOTRACK_URL, else geotrack dev's)"),
		token:  fs.String("token", os.Getenv("GEOTRACK_TOKEN"), "bearer token (default $GEOTRACK_TOKEN); without one, a service token is minted from --secret"),
		secret: fs.String("secret", "", "HS256 secret to mint a token with (default: the jwt-secret file, then $GEOTRACK_JWT_SECRET)"),
		tenant: fs.String("tenant", "demo", "tenant of a minted token"),
		batch:  fs.Int("batch", defaultBatch, "fixes per request (at most 10000)"),
	}
}

// sender builds the client; source names the producer in event ids.
func (f *sendFlags) sender(source string, concurrency int) (*sender.Sender, error) {
	token, err := f.resolveToken()
	if err != nil {
		return nil, err
	}
	if *f.batch <= 0 || *f.batch > fix.MaxBatch {
		return nil, fmt.Errorf("--batch %d must be in 1..%d", *f.batch, fix.MaxBatch)
	}
	s := &sender.Sender{URL: *f.url, Token: token, Source: source, BatchSize: *f.batch, Concurrency: concurrency}
	return s, s.Validate()
}

// resolveToken returns --token, or mints a service token for --tenant.
func (f *sendFlags) resolveToken() (string, error) {
	if *f.token != "" {
		return *f.token, nil
	}
	secret, err := jwtSecret(*f.secret)
	if err != nil {
		return "", fmt.Errorf("no token: pass --token (or set GEOTRACK_TOKEN), or a secret to mint one: %w", err)
	}
	tok, err := auth.Sign([]byte(secret), auth.Principal{Tenant: *f.tenant, Role: auth.RoleService}, 24*time.Hour)
	if err != nil {
		return "", fmt.Errorf("mint token for tenant %q: %w", *f.tenant, err)
	}
	return tok, nil
}

func getenvDefault(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// parseCenter reads "lat,lon".
func parseCenter(s string) (geo.Point, error) {
	latS, lonS, ok := strings.Cut(s, ",")
	if !ok {
		return geo.Point{}, fmt.Errorf("--center %q: want lat,lon (e.g. 51.5074,-0.1278)", s)
	}
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(latS), 64)
	lon, err2 := strconv.ParseFloat(strings.TrimSpace(lonS), 64)
	if err1 != nil || err2 != nil || lat < -80 || lat > 80 || lon < -180 || lon > 180 {
		return geo.Point{}, fmt.Errorf("--center %q: want lat,lon in degrees, |lat| ≤ 80", s)
	}
	return geo.Point{Lat: lat, Lon: lon}, nil
}

func runSimulate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	devices := fs.Int("devices", 10, "number of simulated devices")
	rate := fs.Float64("rate", 1, "fixes per second per device (e.g. 0.2 = one every 5 s)")
	duration := fs.Duration("duration", 0, "stop after this long (0 = until Ctrl-C)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same movements")
	center := fs.String("center", fmt.Sprintf("%g,%g", fleet.London.Lat, fleet.London.Lon), "centre lat,lon of the area")
	radius := fs.Float64("radius", fleet.DefaultRadiusM, "roaming radius around the centre, metres")
	prefix := fs.String("prefix", fleet.DefaultPrefix, "device id prefix")
	sf := addSendFlags(fs, sender.DefaultBatchSize)
	if err := fs.Parse(reorderArgs(fs, args)); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("simulate: unexpected argument %q", fs.Arg(0))
	}
	c, err := parseCenter(*center)
	if err != nil {
		return err
	}
	fl, err := fleet.New(fleet.Config{Devices: *devices, Rate: *rate, Center: c, Seed: *seed,
		Start: time.Now(), Prefix: *prefix, RadiusM: *radius})
	if err != nil {
		return err
	}
	s, err := sf.sender("urn:geotrack:simulate", 2)
	if err != nil {
		return err
	}
	// --duration stops the ticks, not the request in flight: cancelling it
	// would make ingest log a failed request at a normal end.
	var stop <-chan time.Time
	if *duration > 0 {
		stop = time.After(*duration)
	}
	fmt.Fprintf(os.Stderr, "simulate: %d devices at %g fixes/s each around %s → %s (Ctrl-C to stop)\n", *devices, *rate, *center, *sf.url)
	p := newProgress(os.Stderr)
	var total sender.Totals
	line := func() string {
		return fmt.Sprintf("simulate: sent %d accepted %d duplicates %d rejected %d  %s  %s",
			total.Sent(), total.Accepted, total.Duplicates, total.Rejected,
			rateString(total.Sent(), p.Elapsed()), p.Elapsed().Truncate(time.Second))
	}
	err = streamFleet(ctx, stop, fl, s, time.Second, func(t sender.Totals) {
		total.Add(t)
		p.Show(line())
	})
	p.Finish(line())
	for _, r := range total.RejectedSamples {
		fmt.Fprintln(os.Stderr, "  rejected:", r)
	}
	return err
}

// streamFleet advances fl in real time every tick and sends what it reported,
// until stop fires or ctx ends (both normal ways out, so not errors; only
// ctx cancels a request in flight). A slow send delays the next tick; the
// fixes of the gap go out then, with their own timestamps.
func streamFleet(ctx context.Context, stop <-chan time.Time, fl *fleet.Fleet, s *sender.Sender, tick time.Duration, report func(sender.Totals)) error {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-stop:
			return nil
		case now := <-t.C:
			fixes := fl.Advance(now)
			if len(fixes) == 0 {
				continue
			}
			tot, err := s.Send(ctx, fixes, nil)
			report(tot)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("simulate: %w", err)
			}
		}
	}
}

// errNoFixes is returned by replay and import for an empty document.
var errNoFixes = errors.New("the file holds no fixes")
