package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/gpx"
	"github.com/geotrack/geotrack/internal/sender"
)

func init() {
	register(command{name: "replay", summary: "send a GPX track to ingest, paced: replay FILE.gpx --device D --url U [--speed X]", run: runReplay})
}

// maxFileFixes bounds what replay and import load into memory.
const maxFileFixes = 5_000_000

func runReplay(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	device := fs.String("device", "", "device id the track belongs to (required)")
	speed := fs.Float64("speed", 0, "pace: 1 = real time, 10 = ten times faster, 0 = as fast as possible")
	restamp := fs.Bool("now", false, "shift timestamps so the track happens now (ends now with --speed 0)")
	concurrency := fs.Int("concurrency", 2, "requests in flight with --speed 0")
	sf := addSendFlags(fs, sender.DefaultBatchSize)
	if err := fs.Parse(reorderArgs(fs, args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("replay: give one GPX file: geotrack replay FILE.gpx --device D")
	}
	if *device == "" {
		return errors.New("replay: --device is required")
	}
	if *speed < 0 {
		return fmt.Errorf("replay: --speed %g must not be negative", *speed)
	}
	fixes, err := readGPX(fs.Arg(0), *device)
	if err != nil {
		return err
	}
	conc := *concurrency
	if *speed > 0 {
		conc = 1 // paced batches go out in order
	}
	s, err := sf.sender("urn:geotrack:replay", conc)
	if err != nil {
		return err
	}
	if *restamp && *speed == 0 {
		fixes = restampFixes(fixes, time.Now())
	}
	fixes = dropInvalid(fixes, time.Now())
	if len(fixes) == 0 {
		return fmt.Errorf("replay %s: %w", fs.Arg(0), errNoFixes)
	}
	fmt.Fprintf(os.Stderr, "replay: %d fixes of %s as %s → %s\n", len(fixes), fs.Arg(0), *device, *sf.url)
	p := newProgress(os.Stderr)
	r := replayer{send: s.Send, batch: s.BatchSize, speed: *speed, restamp: *restamp && *speed > 0, clock: realClock{}}
	tot, err := r.run(ctx, fixes, func(sent, total int) { p.Bar(sent, total) })
	p.FinishBar(tot.Sent(), len(fixes))
	return report(os.Stderr, "replay", tot, err)
}

func readGPX(path, device string) ([]fix.Fix, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fixes, err := gpx.Decode(f, device, maxFileFixes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return fixes, nil
}

// restampFixes shifts a track to end at now, keeping its spacing, so no fix
// lies in the future. Paced replays (--speed > 0) restamp each fix as it
// falls due instead (replayer.restamp).
func restampFixes(fixes []fix.Fix, now time.Time) []fix.Fix {
	if len(fixes) == 0 {
		return fixes
	}
	out := make([]fix.Fix, len(fixes))
	last := fixes[len(fixes)-1].TS
	for i, f := range fixes {
		f.TS = now.Add(f.TS.Sub(last)).Truncate(time.Millisecond)
		out[i] = f
	}
	return out
}

// dropInvalid removes fixes ingest would reject, saying why for the first
// few, so a bad point does not cost a round trip or hide in the totals.
func dropInvalid(fixes []fix.Fix, now time.Time) []fix.Fix {
	out := fixes[:0:0]
	bad := 0
	for i := range fixes {
		if err := fix.Validate(&fixes[i], now); err != nil {
			if bad < 5 {
				fmt.Fprintf(os.Stderr, "  skipping fix %d (%s): %v\n", i, fix.FormatTime(fixes[i].TS), err)
			}
			bad++
			continue
		}
		out = append(out, fixes[i])
	}
	if bad > 0 {
		fmt.Fprintf(os.Stderr, "  skipped %d invalid fixes of %d\n", bad, len(fixes))
	}
	return out
}

// clock is the time source of a paced replay; tests pass a fake one.
type clock interface {
	Now() time.Time
	// Sleep waits d or until ctx ends, returning ctx's error then.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// replayer sends a recorded track to ingest.
type replayer struct {
	send  func(ctx context.Context, fixes []fix.Fix, progress func(sent, total int)) (sender.Totals, error)
	batch int // fixes per request when paced; 0 = sender.DefaultBatchSize
	// speed paces the track: fix i is due at start + (ts_i - ts_0)/speed.
	// 0 sends everything at once.
	speed float64
	// restamp stamps each fix with the moment it falls due, so a paced
	// replay of an old track happens now and no fix is ever in the future.
	restamp bool
	clock   clock
}

// run sends fixes; when paced, whatever is due goes out in one batch before
// waiting for the next. The offsets are divided by speed here and only here.
func (r replayer) run(ctx context.Context, fixes []fix.Fix, progress func(sent, total int)) (sender.Totals, error) {
	if r.speed == 0 {
		return r.send(ctx, fixes, progress)
	}
	var total sender.Totals
	start := r.clock.Now()
	first := fixes[0].TS
	batch := r.batch
	if batch <= 0 {
		batch = sender.DefaultBatchSize
	}
	var pending []fix.Fix
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		t, err := r.send(ctx, pending, nil)
		total.Add(t)
		pending = pending[:0]
		progress(total.Sent(), len(fixes))
		return err
	}
	for _, f := range fixes {
		due := start.Add(time.Duration(float64(f.TS.Sub(first)) / r.speed))
		if wait := due.Sub(r.clock.Now()); wait > time.Millisecond {
			if err := flush(); err != nil {
				return total, err
			}
			if err := r.clock.Sleep(ctx, wait); err != nil {
				return total, err
			}
		}
		if r.restamp {
			// Never later than the clock: a fix from the future is refused.
			stamp := due
			if now := r.clock.Now(); stamp.After(now) {
				stamp = now
			}
			f.TS = stamp.Truncate(time.Millisecond)
		}
		pending = append(pending, f)
		if len(pending) >= batch {
			if err := flush(); err != nil {
				return total, err
			}
		}
	}
	return total, flush()
}

// report prints the totals of a replay or import and turns rejections into
// an error, so scripts notice. Fixes ingest did not keep because they are
// older than its hot retention are counted apart from "accepted", with what
// to do about them.
func report(out io.Writer, what string, tot sender.Totals, err error) error {
	fmt.Fprintf(out, "%s: accepted %d, duplicates %d, too old %d, rejected %d\n", what, tot.Accepted, tot.Duplicates, tot.TooOld, tot.Rejected)
	if tot.TooOld > 0 {
		fmt.Fprintf(out, "  %d fixes were not kept: they are older than the server's hot history retention (HISTORY_RETENTION, 7 days by default).\n", tot.TooOld)
		fmt.Fprintf(out, "  To see an old recording as live data, replay it with --now (its timestamps are moved to the present).\n")
	}
	for _, r := range tot.RejectedSamples {
		fmt.Fprintln(out, "  rejected:", r)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if tot.Rejected > 0 {
		return fmt.Errorf("%s: ingest rejected %d fixes", what, tot.Rejected)
	}
	return nil
}

// reorderArgs moves positional arguments behind the flags, because package
// flag stops at the first non-flag: `replay track.gpx --device d` then
// parses like `replay --device d track.gpx`. fs tells which flags take a
// value, so a value that looks like a flag or a number (--center -33.9,151.2)
// stays with its flag.
func reorderArgs(fs *flag.FlagSet, args []string) []string {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBoolValue(f.Value) && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	if len(positional) == 0 {
		return flags
	}
	// "--" keeps a positional that starts with '-' from being read as a flag.
	return append(append(flags, "--"), positional...)
}

func isBoolValue(v flag.Value) bool {
	b, ok := v.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
