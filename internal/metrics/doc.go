// Package metrics is a tiny, dependency-free Prometheus registry that writes
// the text exposition format 0.0.4: counters and gauges with label values,
// gauge functions read at scrape time, and histograms with fixed buckets.
//
// It exists so every geotrack function can expose /metrics without pulling
// the Prometheus client into a cold-started binary: measured on the real
// binary, the client costs about 4 MiB of idle RSS and 2–4 ms of cold start
// (BENCHMARKS.md, "Metrics"), above the 2 MB / 1 ms the project accepts.
//
// Registering a name that is already registered with the same type and label
// names returns the existing metric, so several functions in one process (the
// local dev runner) share families. Misuse that can only be a programming
// error (invalid names, a type or label clash, a wrong number of label values,
// a negative counter increment) panics, as in the Prometheus client.
package metrics
