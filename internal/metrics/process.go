package metrics

import (
	"bytes"
	"math"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
	"strconv"
	"time"
)

// startTime is taken when the package initialises, which for a function
// binary is within a millisecond of exec.
var startTime = time.Now()

// RegisterProcessMetrics adds the standard Go and process gauges to r. All are
// read at scrape time: runtime/metrics rather than ReadMemStats, because it
// does not stop the world.
func RegisterProcessMetrics(r *Registry) {
	r.NewGaugeFunc("go_goroutines", "Number of goroutines that currently exist.",
		func() float64 { return float64(runtime.NumGoroutine()) })
	r.NewGaugeFunc("go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and still in use.",
		runtimeMetric("/memory/classes/heap/objects:bytes"))
	r.NewGaugeFunc("go_memstats_sys_bytes", "Number of bytes obtained from the OS by the Go runtime.",
		runtimeMetric("/memory/classes/total:bytes"))
	r.NewGaugeVec("go_info", "Information about the Go environment.", "version").
		With(runtime.Version()).Set(1)
	r.NewGaugeFunc("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
		func() float64 { return float64(startTime.UnixNano()) / 1e9 })
	if runtime.GOOS == "linux" {
		r.NewGaugeFunc("process_resident_memory_bytes", "Resident memory size in bytes.", residentBytes)
	}
}

// runtimeMetric reads one runtime/metrics value; NaN when the running Go
// version does not know the name.
func runtimeMetric(name string) func() float64 {
	return func() float64 {
		s := []rtmetrics.Sample{{Name: name}}
		rtmetrics.Read(s)
		switch s[0].Value.Kind() {
		case rtmetrics.KindUint64:
			return float64(s[0].Value.Uint64())
		case rtmetrics.KindFloat64:
			return s[0].Value.Float64()
		}
		return math.NaN()
	}
}

// residentBytes reads the second field of /proc/self/statm (pages).
func residentBytes() float64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return math.NaN()
	}
	fields := bytes.Fields(data)
	if len(fields) < 2 {
		return math.NaN()
	}
	pages, err := strconv.ParseUint(string(fields[1]), 10, 64)
	if err != nil {
		return math.NaN()
	}
	return float64(pages * uint64(os.Getpagesize()))
}
