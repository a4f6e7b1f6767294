package main

// This file: the Markdown report of geotrack bench ingest and its number formatting.

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// percentile returns the q-quantile (0..1) of ds by the nearest-rank method.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

func fmtMS(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func fmtMiB(kib int64) string {
	if kib == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}

// thousands formats 1234567.8 as 1,234,568.
func fmtThousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func benchRatio(a, b float64) (float64, bool) {
	if a <= 0 || b <= 0 {
		return 0, false
	}
	return a / b, true
}

func targetVerdict(r float64, ok bool, target float64) string {
	switch {
	case !ok:
		return "n/a"
	case r >= target:
		return "**pass**"
	}
	return "**miss**"
}

func (r *benchReport) markdown() string {
	var b strings.Builder
	c := r.cfg
	fmt.Fprintf(&b, "### geotrack bench ingest — %s\n\n", r.date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Command: `%s`\n", r.command)
	fmt.Fprintf(&b, "- Machine: %s, %s, %s; load average %s before the run, %s after\n", r.cpu, r.machine, r.goVersion, r.loadBefore, r.loadAfter)
	where := "given by --redis-url"
	if r.privateRedis {
		where = "private redis-server on 127.0.0.1, no persistence"
	}
	fmt.Fprintf(&b, "- Redis %s (%s); functions run as `geotrack serve <fn>` subprocesses with LOG_LEVEL=warn; "+
		"the load generator runs on the same machine and shares its CPUs.\n", r.redisVersion, where)
	fmt.Fprintf(&b, "- Throughput runs: %s measured after %s warm-up, fixes from %d simulated devices.\n\n", c.duration, c.warmup, c.devices)

	b.WriteString("| Measure | Value | Target | Result |\n|---|---|---|---|\n")
	load := func(name string, l loadResult) {
		fmt.Fprintf(&b, "| %s | %s positions/s (%d requests, %d duplicates, %d rejected, %d errors; load generator %.0f %% of the CPUs) | | |\n",
			name, fmtThousands(l.PerSec), l.Requests, l.Duplicates, l.Rejected, l.Errors, l.GeneratorCPU*100)
	}
	load(fmt.Sprintf("Ingest batched: %d fixes per request in one structured CloudEvent (as edge forwarders send), %d workers", c.batchSize, c.batchWorkers), r.batched)
	load(fmt.Sprintf("Ingest CloudEvents batch mode: %d events of one fix per request (each deduplicated by source+id), %d workers", c.batchSize, c.batchWorkers), r.batchMode)
	load(fmt.Sprintf("Ingest single: 1 fix/request (binary CloudEvent), %d workers", c.singleWorkers), r.single)
	load(fmt.Sprintf("No-op net/http handler (reads the body, answers 202), same single-fix load, %d workers", c.singleWorkers), r.noop)
	fmt.Fprintf(&b, "| redis-benchmark GEOADD pipelined (-P 16, -c 50, -n %d) | %s requests/s | | |\n", c.geoaddRequests, fmtThousands(r.geoaddPiped))
	fmt.Fprintf(&b, "| redis-benchmark GEOADD unpipelined (-c 50, -n %d) | %s requests/s | | |\n", max(c.geoaddRequests/5, 1000), fmtThousands(r.geoaddUnpiped))
	rb, okB := benchRatio(r.batched.PerSec, r.geoaddPiped)
	rs, okS := benchRatio(r.single.PerSec, r.geoaddUnpiped)
	fmt.Fprintf(&b, "| Batched ÷ pipelined GEOADD | %.1f %% | ≥ %.0f %% | %s |\n", rb*100, targetBatchedRatio*100, targetVerdict(rb, okB, targetBatchedRatio))
	fmt.Fprintf(&b, "| Single ÷ unpipelined GEOADD | %.1f %% | ≥ %.0f %% | %s |\n", rs*100, targetSingleRatio*100, targetVerdict(rs, okS, targetSingleRatio))
	rh, okH := benchRatio(r.single.PerSec, r.noop.PerSec)
	fmt.Fprintf(&b, "| Single ÷ no-op HTTP handler (the HTTP ceiling) | %.1f %% | ≥ %.0f %% | %s |\n", rh*100, targetSingleHTTPRatio*100, targetVerdict(rh, okH, targetSingleHTTPRatio))
	if len(r.coldStart) > 0 {
		fmt.Fprintf(&b, "| Cold start `serve position`, exec → 200 on /_/ready (n=%d) | median %s, p90 %s, max %s | | |\n",
			len(r.coldStart), fmtMS(quantile(r.coldStart, 0.5)), fmtMS(quantile(r.coldStart, 0.9)), fmtMS(quantile(r.coldStart, 1)))
	}
	fmt.Fprintf(&b, "| RSS of `serve ingest`: idle after start / after 20 requests / after the load runs | %s / %s / %s | | |\n",
		fmtMiB(r.rssIdle), fmtMiB(r.rssWarm), fmtMiB(r.rssLoaded))
	if n := r.nearby; len(n.HTTP) > 0 {
		fmt.Fprintf(&b, "| Nearby over HTTP: %s devices over %.0f×%.0f km, %d queries, radius 500–2000 m, limit 100 (mean %.0f found) | p50 %s, p99 %s, max %s | | |\n",
			fmtThousands(float64(n.Devices)), n.RegionKm, n.RegionKm, len(n.HTTP), n.MeanFound,
			fmtMS(quantile(n.HTTP, 0.5)), fmtMS(quantile(n.HTTP, 0.99)), fmtMS(quantile(n.HTTP, 1)))
	}
	if n := r.nearby; len(n.Store) > 0 {
		fmt.Fprintf(&b, "| Nearby store-level (Store.Nearby, same queries) | p50 %s, p99 %s, max %s | | |\n",
			fmtMS(quantile(n.Store, 0.5)), fmtMS(quantile(n.Store, 0.99)), fmtMS(quantile(n.Store, 1)))
		fmt.Fprintf(&b, "| Loading the nearby devices through Store.Save (5,000/batch, 4 in flight) | %s (%s devices/s) | | |\n",
			r.nearby.LoadElapsed.Round(time.Millisecond), fmtThousands(float64(n.Devices)/r.nearby.LoadElapsed.Seconds()))
	}
	for _, n := range r.notes {
		fmt.Fprintf(&b, "\nFailed part: %s\n", n)
	}
	b.WriteString("\n")
	return b.String()
}
