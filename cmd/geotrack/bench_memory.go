package main

// This file: Redis memory per stored fix (issue 11 §1), history and dedup
// marks, measured with INFO memory around a simulated hour of a fleet.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/redisstore"
)

func init() {
	registerBench(command{name: "memory", summary: "Redis bytes per stored fix (history, latest, dedup marks) over a simulated hour", run: runBenchMemory})
}

// targetBytesPerFix is issue 11's bound on Redis memory per stored fix.
const targetBytesPerFix = 32

type benchMemoryConfig struct {
	redisURL string
	devices  int
	span     time.Duration
	rate     float64
	batch    int
	workers  int
	events   []string
	out      string
}

func runBenchMemory(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench memory", flag.ContinueOnError)
	var c benchMemoryConfig
	fs.StringVar(&c.redisURL, "redis-url", "", "Redis to use (default: start a private redis-server on 127.0.0.1)")
	fs.IntVar(&c.devices, "devices", 1000, "simulated devices")
	fs.DurationVar(&c.span, "span", time.Hour, "simulated time: fixes are stamped over this span before now, ingested as fast as possible")
	fs.Float64Var(&c.rate, "rate", 1, "fixes per second per device")
	fs.IntVar(&c.batch, "batch", 1000, "fixes per Save (one request)")
	fs.IntVar(&c.workers, "workers", 4, "concurrent Saves")
	events := fs.String("events", "none,request,fix", "runs, each in its own tenant: none (no CloudEvent ids), request (one event id per request), fix (one event id per fix)")
	fs.StringVar(&c.out, "out", "", "also write the markdown report to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.events = strings.Split(*events, ",")
	for _, e := range c.events {
		if e != "none" && e != "request" && e != "fix" {
			return fmt.Errorf("bench memory: -events: unknown run %q (none, request, fix)", e)
		}
	}
	if c.devices < 1 || c.batch < 1 || c.workers < 1 || c.rate <= 0 || c.span <= 0 {
		return fmt.Errorf("bench memory: -devices, -batch, -workers, -rate and -span must be positive")
	}
	var w io.Writer = os.Stdout
	var file *os.File
	if c.out != "" {
		f, err := os.Create(c.out)
		if err != nil {
			return err
		}
		file = f
		defer file.Close()
		w = io.MultiWriter(os.Stdout, f)
	}
	return benchMemory(ctx, w, c, os.Args)
}

func benchMemory(ctx context.Context, w io.Writer, c benchMemoryConfig, cmdline []string) error {
	url := c.redisURL
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
	store := redisstore.New(client, redisstore.Options{})

	fmt.Fprintf(w, "# geotrack bench memory\n\n`%s`\n\n", quoteArgs(cmdline))
	fmt.Fprintf(w, "%d devices at %g Hz over %v (fixes stamped over the span before now, ingested as fast as possible), %d fixes per Save, %d concurrent Saves; Redis %s; %s; load %s; GOMAXPROCS=%d\n\n",
		c.devices, c.rate, c.span, c.batch, c.workers, redisVersion(ctx, url), cpuModel(), loadAverage(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "| event ids | fixes sent / stored | used_memory delta | bytes per fix | target | ingest time |\n|---|---:|---:|---:|---:|---:|\n")
	for _, mode := range c.events {
		tenant := "benchmem-" + mode + "-" + randomHex(4)
		before := datasetMemory(ctx, client)
		start := time.Now()
		sent, stored, err := memoryRun(ctx, store, tenant, mode, c)
		if err != nil {
			return fmt.Errorf("bench memory: run %s: %w", mode, err)
		}
		took := time.Since(start)
		delta := datasetMemory(ctx, client) - before
		per := float64(delta) / float64(max(stored, 1))
		target := "—"
		if mode == "none" || mode == "request" {
			target = fmt.Sprintf("≤ %d %s", targetBytesPerFix, verdict(per <= targetBytesPerFix))
		}
		fmt.Fprintf(w, "| %s | %d / %d | %d | %.1f | %s | %v (%s fixes/s) |\n", mode, sent, stored, delta, per, target,
			took.Round(time.Millisecond), fmtThousands(float64(stored)/took.Seconds()))
	}
	fmt.Fprintf(w, "\nThe delta is INFO memory's used_memory less mem_clients_normal (the connections' query buffers, which hold the last script call's arguments), "+
		"read a second after the run; used_memory is allocator-sized, so jemalloc size classes and APPEND's greedy growth count. "+
		"The delta holds every per-fix and per-device structure of the tenant: history buckets and their index, latest positions (GEO, JSON, ts), the device set, and the CloudEvent dedup marks (which live DedupTTL, 24 h by default).\n")
	if c.redisURL != "" {
		fmt.Fprintf(w, "The benchmem-* tenants are left in that Redis.\n")
	}
	return nil
}

// memoryRun stores the fleet's fixes of c.span in tenant and returns how
// many were sent and stored.
func memoryRun(ctx context.Context, store *redisstore.Store, tenant, mode string, c benchMemoryConfig) (sent, stored int, err error) {
	now := time.Now().Truncate(time.Second)
	start := now.Add(-c.span)
	fl, err := fleet.New(fleet.Config{Devices: c.devices, Rate: c.rate, Seed: 11, Start: start, Prefix: "mem-"})
	if err != nil {
		return 0, 0, err
	}
	batches := make(chan []fix.Fix, c.workers)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		seq      int
	)
	for range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				mu.Lock()
				seq++
				id := seq
				mu.Unlock()
				var groups []intake.Group
				switch mode {
				case "none":
					groups = []intake.Group{{Fixes: b}}
				case "request":
					groups = []intake.Group{{Source: "urn:bench:memory", ID: fmt.Sprintf("req-%d", id), Fixes: b}}
				case "fix":
					groups = make([]intake.Group, len(b))
					for i := range b {
						groups[i] = intake.Group{Source: "urn:bench:memory", ID: fmt.Sprintf("fix-%d-%d", id, i), Fixes: b[i : i+1]}
					}
				}
				res, err := store.Save(ctx, tenant, groups, now)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				stored += res.Accepted
				mu.Unlock()
			}
		}()
	}
	// Ten simulated seconds at a time keeps the fleet's output small.
	var pending []fix.Fix
	for t := start; t.Before(now) && ctx.Err() == nil; {
		t = t.Add(10 * time.Second)
		if t.After(now) {
			t = now
		}
		pending = append(pending, fl.Advance(t)...)
		for len(pending) >= c.batch {
			sent += c.batch
			batches <- pending[:c.batch:c.batch]
			pending = pending[c.batch:]
		}
	}
	if len(pending) > 0 {
		sent += len(pending)
		batches <- pending
	}
	close(batches)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return sent, stored, firstErr
}

// datasetMemory is used_memory less the normal clients' buffers (query
// buffers of big script calls, shrunk by Redis only later), read after a
// second so that Redis' cron has settled.
func datasetMemory(ctx context.Context, c redis.UniversalClient) int64 {
	sleepCtx(ctx, time.Second)
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return 0
	}
	field := func(name string) int64 {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		return 0
	}
	return field("used_memory") - field("mem_clients_normal")
}
