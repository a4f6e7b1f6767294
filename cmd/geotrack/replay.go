package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
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
	start := time.Now()
	if *restamp {
		fixes = restampFixes(fixes, start, *speed)
	}
	fixes = dropInvalid(fixes, time.Now())
	if len(fixes) == 0 {
		return fmt.Errorf("replay %s: %w", fs.Arg(0), errNoFixes)
	}
	fmt.Fprintf(os.Stderr, "replay: %d fixes of %s as %s → %s\n", len(fixes), fs.Arg(0), *device, *sf.url)
	p := newProgress(os.Stderr)
	tot, err := replay(ctx, s, fixes, *speed, start, func(sent, total int) { p.Bar(sent, total) })
	p.FinishBar(tot.Sent(), len(fixes))
	return report("replay", tot, err)
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

// restampFixes moves a track to the present: with speed > 0 each fix is
// stamped when it will be sent; with speed 0 the track is shifted to end at
// now, so no fix lies in the future.
func restampFixes(fixes []fix.Fix, now time.Time, speed float64) []fix.Fix {
	if len(fixes) == 0 {
		return fixes
	}
	out := make([]fix.Fix, len(fixes))
	first, last := fixes[0].TS, fixes[len(fixes)-1].TS
	for i, f := range fixes {
		if speed > 0 {
			f.TS = now.Add(time.Duration(float64(f.TS.Sub(first)) / speed))
		} else {
			f.TS = now.Add(f.TS.Sub(last))
		}
		f.TS = f.TS.Truncate(time.Millisecond)
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

// replay sends fixes, paced by their timestamps when speed > 0: fix i is
// due at start + (ts_i - ts_0)/speed, and whatever is due is sent in one
// batch before waiting for the next.
func replay(ctx context.Context, s *sender.Sender, fixes []fix.Fix, speed float64, start time.Time,
	progress func(sent, total int)) (sender.Totals, error) {
	if speed == 0 {
		return s.Send(ctx, fixes, progress)
	}
	var total sender.Totals
	first := fixes[0].TS
	batch := s.BatchSize
	if batch <= 0 {
		batch = sender.DefaultBatchSize
	}
	var pending []fix.Fix
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		t, err := s.Send(ctx, pending, nil)
		total.Add(t)
		pending = pending[:0]
		progress(total.Sent(), len(fixes))
		return err
	}
	for _, f := range fixes {
		due := start.Add(time.Duration(float64(f.TS.Sub(first)) / speed))
		if wait := time.Until(due); wait > time.Millisecond {
			if err := flush(); err != nil {
				return total, err
			}
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return total, ctx.Err()
			case <-timer.C:
			}
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
// an error, so scripts notice.
func report(what string, tot sender.Totals, err error) error {
	fmt.Fprintf(os.Stderr, "%s: accepted %d, duplicates %d, rejected %d\n", what, tot.Accepted, tot.Duplicates, tot.Rejected)
	for _, r := range tot.RejectedSamples {
		fmt.Fprintln(os.Stderr, "  rejected:", r)
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
