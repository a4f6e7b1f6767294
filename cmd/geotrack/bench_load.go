package main

// This file: load generation for geotrack bench ingest: distinct fixes and the timed runs.

import (
	"context"
	"errors"
	"math"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/sender"
)

// fixSource hands out distinct fixes endlessly: one simulated cycle of the
// fleet, replayed with timestamps shifted by the cycle length each round.
// Precomputing keeps the load generator cheap, since it shares the CPU with
// the server it measures.
type fixSource struct {
	mu    sync.Mutex
	cycle []fix.Fix
	span  time.Duration
	round int
	pos   int
	limit time.Time // never stamp beyond this (ingest rejects > now+24h)
}

func newFixSource(devices int) (*fixSource, error) {
	const span = time.Minute
	start := time.Now().Add(-12 * time.Hour).Truncate(time.Second)
	fl, err := fleet.New(fleet.Config{Devices: devices, Rate: 1, Seed: 42, Start: start, Prefix: "bench-"})
	if err != nil {
		return nil, err
	}
	// At least 20,000 fixes per cycle, whatever the fleet size.
	d := max(span, time.Duration(math.Ceil(20000/float64(devices)))*time.Second)
	return &fixSource{cycle: fl.Advance(start.Add(d)), span: d, limit: time.Now().Add(23 * time.Hour)}, nil
}

// next returns n fixes never handed out before (nil once the time budget of
// the source is used up, after tens of millions of fixes).
func (s *fixSource) next(n int) []fix.Fix {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]fix.Fix, 0, n)
	shift := time.Duration(s.round) * s.span
	for len(out) < n {
		if s.pos == len(s.cycle) {
			s.pos, s.round = 0, s.round+1
			shift = time.Duration(s.round) * s.span
		}
		f := s.cycle[s.pos]
		f.TS = f.TS.Add(shift)
		if f.TS.After(s.limit) {
			return nil
		}
		out = append(out, f)
		s.pos++
	}
	return out
}

type loadSpec struct {
	url, token       string
	mode             sender.Mode
	batch, workers   int
	warmup, duration time.Duration
}

// loadResult is one measured run; PerSec counts stored positions.
type loadResult struct {
	Fixes, Requests, Duplicates, Rejected, Errors int
	Elapsed                                       time.Duration
	PerSec                                        float64
	Workers, Batch                                int
	// GeneratorCPU is the load generator's (this process's) CPU time in
	// the measured window as a share of all the machine's CPUs.
	GeneratorCPU float64
}

// runLoad keeps spec.workers requests in flight for warmup+duration and
// counts what completes in the measured window.
func runLoad(ctx context.Context, spec loadSpec, src *fixSource) (loadResult, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: sender.NewTransport(spec.workers)}
	defer client.CloseIdleConnections()
	s := &sender.Sender{URL: spec.url, Token: spec.token, Mode: spec.mode, Source: "urn:geotrack:bench",
		HTTPClient: client, MaxAttempts: 3, Backoff: 20 * time.Millisecond}
	var (
		measuring                       atomic.Bool
		fixes, requests, dups, rejected atomic.Int64
		errs                            atomic.Int64
		fatal                           atomic.Pointer[error]
	)
	runCtx, stop := context.WithTimeout(ctx, spec.warmup+spec.duration+30*time.Second)
	defer stop()
	var wg sync.WaitGroup
	for range spec.workers {
		wg.Go(func() {
			for runCtx.Err() == nil {
				batch := src.next(spec.batch)
				if batch == nil {
					return
				}
				t, err := s.Post(runCtx, batch)
				if err != nil {
					if runCtx.Err() != nil {
						return
					}
					errs.Add(1)
					var se *sender.StatusError
					if errors.As(err, &se) && se.Code < 500 && se.Code != http.StatusTooManyRequests {
						fatal.CompareAndSwap(nil, &err)
						stop()
						return
					}
					continue
				}
				if measuring.Load() {
					fixes.Add(int64(t.Accepted))
					requests.Add(1)
					dups.Add(int64(t.Duplicates))
					rejected.Add(int64(t.Rejected))
				}
			}
		})
	}
	sleepCtx(runCtx, spec.warmup)
	measuring.Store(true)
	began, cpuBefore := time.Now(), processCPU()
	sleepCtx(runCtx, spec.duration)
	measuring.Store(false)
	elapsed, cpu := time.Since(began), processCPU()-cpuBefore
	stop()
	wg.Wait()
	res := loadResult{Fixes: int(fixes.Load()), Requests: int(requests.Load()), Duplicates: int(dups.Load()),
		Rejected: int(rejected.Load()), Errors: int(errs.Load()), Elapsed: elapsed, Workers: spec.workers, Batch: spec.batch}
	res.PerSec = float64(res.Fixes) / elapsed.Seconds()
	res.GeneratorCPU = cpu.Seconds() / (elapsed.Seconds() * float64(runtime.NumCPU()))
	if p := fatal.Load(); p != nil {
		return res, *p
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if res.Fixes == 0 {
		return res, errors.New("no fixes stored in the measured window")
	}
	return res, nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
