package main

// This file: `geotrack bench movement`, the trip state machine alone, the
// movement function's service over a real Redis, and the trips report over
// a week of 1 Hz history.

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/eventoutbox"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/locate"
	"github.com/geotrack/geotrack/internal/movement"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/trips"
)

func init() {
	registerBench(command{name: "movement", summary: "trip state machine, movement over Redis, trips report over a week at 1 Hz", run: runBenchMovement})
}

// Targets of issue 10.
const (
	targetMachineFixesPerS  = 100_000
	targetMovementFixesPerS = 30_000
	targetWeekReport        = 2 * time.Second
)

func runBenchMovement(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench movement", flag.ContinueOnError)
	redisURL := fs.String("redis-url", "", "Redis to use (default: start a private redis-server on 127.0.0.1)")
	devices := fs.Int("devices", 200, "simulated devices (a day each, 1 Hz)")
	workers := fs.Int("workers", 8, "concurrent movement calls")
	batch := fs.Int("batch", 50, "fixes per device per call (one location.updated carries a request's fixes)")
	weekDays := fs.Int("report-days", 7, "days of 1 Hz history for the trips report")
	if err := fs.Parse(args); err != nil {
		return err
	}
	out := os.Stdout

	// A fleet of scripted days at 1 Hz, half with reported speed.
	var fleetFixes [][]fix.Fix
	total := 0
	for i := range *devices {
		sim := fleet.Simulate(uint64(i), fmt.Sprintf("bench-%04d", i), time.Second, i%2 == 0, fleet.DayScript(uint64(i)))
		fleetFixes = append(fleetFixes, sim.Fixes)
		total += len(sim.Fixes)
	}
	fmt.Fprintf(out, "# geotrack bench movement\n\n%d simulated devices, %d fixes (1 Hz, scripted parks and drives)\n\n", *devices, total)

	// 1. The machine alone, one core.
	rules := trips.DefaultRules()
	start := time.Now()
	events := 0
	var evs []trips.Event
	for _, fixes := range fleetFixes {
		var s trips.State
		for i := range fixes {
			evs, _ = trips.Step(rules, &s, fixes[i].Device, fixes[i], evs[:0])
			events += len(evs)
		}
	}
	d := time.Since(start)
	rate := float64(total) / d.Seconds()
	fmt.Fprintf(out, "| measure | result | target |\n|---|---:|---:|\n")
	fmt.Fprintf(out, "| state machine (pure, 1 goroutine) | %s fixes/s (%d events) | ≥ %s %s |\n", fmtThousands(rate), events, fmtThousands(targetMachineFixesPerS), verdict(rate >= targetMachineFixesPerS))

	url := *redisURL
	if url == "" {
		rs, err := startRedisServer(ctx)
		if err != nil {
			return err
		}
		defer rs.stop()
		url = rs.url
	}
	if _, err := redisTarget(url); err != nil {
		return err
	}
	client, err := redisstore.Open(url)
	if err != nil {
		return err
	}
	defer client.Close()
	tenant := "benchmv-" + randomHex(4)

	// 2. movement's service over Redis, as deployed: state, outbox entry and
	// event log in one MULTI per device and call.
	states := redisstore.NewMovementStore(client, redisstore.MovementOptions{
		Queue: func(ctx context.Context, pipe redis.Pipeliner, tenant string, e movement.Event) {
			eventoutbox.Queue(ctx, pipe, redisstore.DefaultKeyPrefix, tenant, eventoutbox.Event{
				Type: e.Type, Source: "urn:geotrack:movement", Subject: e.Subject, ID: e.ID, Time: e.Time, Data: e.Data})
		},
	})
	live := movement.NewLive(states, movement.DefaultRules{})
	var mu sync.Mutex
	var firstErr error
	emitted := 0
	start = time.Now()
	// Each device's batches in order, devices interleaved: a worker owns a
	// device's next batch only after its previous one was sent.
	perWorker := make([][]int, *workers)
	for i := range fleetFixes {
		perWorker[i%*workers] = append(perWorker[i%*workers], i)
	}
	var feed sync.WaitGroup
	for w := range *workers {
		feed.Add(1)
		go func(devs []int) {
			defer feed.Done()
			for off := 0; ; off += *batch {
				more := false
				for _, i := range devs {
					fixes := fleetFixes[i]
					if off < len(fixes) {
						more = true
						res, err := live.Observe(ctx, tenant, fixes[off:min(off+*batch, len(fixes))])
						mu.Lock()
						if err != nil && firstErr == nil {
							firstErr = err
						}
						emitted += res.Events
						mu.Unlock()
					}
				}
				if !more {
					return
				}
			}
		}(perWorker[w])
	}
	feed.Wait()
	d = time.Since(start)
	if firstErr != nil {
		return firstErr
	}
	rate = float64(total) / d.Seconds()
	fmt.Fprintf(out, "| movement over Redis (%d workers, %d fixes per device per call) | %s fixes/s (%d events) | ≥ %s %s |\n",
		*workers, *batch, fmtThousands(rate), emitted, fmtThousands(targetMovementFixesPerS), verdict(rate >= targetMovementFixesPerS))

	// 3. The trips report over a week of 1 Hz history in the hot store.
	week := weekOfFixes(*weekDays)
	hot := redisstore.New(client, redisstore.Options{HistoryRetention: 10 * 365 * 24 * time.Hour})
	for i := 0; i < len(week); i += 5000 {
		g := intake.Group{Fixes: week[i:min(i+5000, len(week))]}
		if _, err := hot.Save(ctx, tenant, []intake.Group{g}, week[len(week)-1].TS.Add(time.Minute)); err != nil {
			return fmt.Errorf("store the week: %w", err)
		}
	}
	reports := movement.NewReports(locate.New(hot), movement.DefaultRules{})
	start = time.Now()
	rep, err := reports.Build(ctx, tenant, week[0].Device, time.Time{}, time.Time{})
	if err != nil {
		return err
	}
	d = time.Since(start)
	fmt.Fprintf(out, "| trips report, %d days at 1 Hz (%d fixes read) | %s (%d trips, %d stops) | < %v %s |\n",
		*weekDays, rep.Fixes, d.Round(time.Millisecond), rep.Summary.Trips, rep.Summary.Stops, targetWeekReport, verdict(d < targetWeekReport))
	fmt.Fprintf(out, "\nRedis: %s; GOMAXPROCS=%d\n", url, runtime.GOMAXPROCS(0))
	if *redisURL != "" {
		fmt.Fprintf(out, "The keys of tenant %s are left in that Redis.\n", tenant)
	}
	return nil
}

// weekOfFixes is one device reporting every second for days days: the
// scripted day repeated with the clock moved on.
func weekOfFixes(days int) []fix.Fix {
	var out []fix.Fix
	t0 := time.Now().Add(-time.Duration(days) * 24 * time.Hour).Truncate(time.Second)
	for day := range days {
		sim := fleet.Simulate(uint64(1000+day), "week-1", time.Second, true, append(fleet.DayScript(uint64(1000+day)), fleet.Segment{Park: 24 * time.Hour}))
		base := t0.Add(time.Duration(day) * 24 * time.Hour)
		shift := base.Sub(sim.Fixes[0].TS)
		for _, f := range sim.Fixes {
			f.TS = f.TS.Add(shift)
			if f.TS.Sub(base) >= 24*time.Hour {
				break
			}
			out = append(out, f)
		}
	}
	return out
}

func verdict(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}
