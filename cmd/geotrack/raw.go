package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/gpx"
	"github.com/geotrack/geotrack/internal/redisstore"
)

func init() {
	register(command{name: "raw", summary: "print an edge node's raw fixes (before filtering): --redis-url U [--device D] [--since 1h] [--format json|gpx]", run: runRaw})
}

func runRaw(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("raw", flag.ContinueOnError)
	redisURL := fs.String("redis-url", os.Getenv("REDIS_URL"), "the edge Redis (default $REDIS_URL)")
	device := fs.String("device", "", "only this device")
	since := fs.Duration("since", 24*time.Hour, "how far back (the raw log keeps RAW_RETENTION)")
	format := fs.String("format", "json", "json (one fix per line) or gpx (one device's track, for geotrack replay)")
	max := fs.Int("max", 1_000_000, "at most this many fixes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *redisURL == "" {
		return errors.New("raw: pass --redis-url or set REDIS_URL")
	}
	if *format != "json" && *format != "gpx" {
		return fmt.Errorf("raw: --format %q is not json or gpx", *format)
	}
	if *format == "gpx" && *device == "" {
		return errors.New("raw: --format gpx needs --device (a GPX track is one device's)")
	}
	client, err := redisstore.Open(*redisURL)
	if err != nil {
		return err
	}
	defer client.Close()
	entries, err := redisstore.ReadRaw(ctx, client, time.Now().Add(-*since), *device, *max)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	if *format == "gpx" {
		fixes := make([]fix.Fix, len(entries))
		for i, e := range entries {
			fixes[i] = e.Fix
		}
		return gpx.Encode(w, *device, fixes)
	}
	for _, e := range entries {
		line := e.Fix.AppendJSON(nil)
		if _, err := fmt.Fprintf(w, "%s\n", line); err != nil {
			return err
		}
	}
	return nil
}
