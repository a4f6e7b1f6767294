package metrics

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync/atomic"
)

// Histogram counts observations into fixed buckets.
type Histogram struct {
	bounds []float64       // upper bounds, strictly increasing, without +Inf
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sum    atomicFloat
}

// Observe records v in the first bucket whose upper bound is >= v.
func (h *Histogram) Observe(v float64) {
	h.counts[sort.SearchFloat64s(h.bounds, v)].Add(1)
	h.sum.add(v)
}

// snapshot returns the cumulative bucket counts (the +Inf one last, which is
// also the total count) and the sum. Counting from the buckets keeps _count
// equal to the +Inf bucket even while observations race with a scrape.
func (h *Histogram) snapshot() (cumulative []uint64, sum float64) {
	cumulative = make([]uint64, len(h.counts))
	var total uint64
	for i := range h.counts {
		total += h.counts[i].Load()
		cumulative[i] = total
	}
	return cumulative, h.sum.load()
}

// Count returns how many values were observed.
func (h *Histogram) Count() uint64 {
	c, _ := h.snapshot()
	return c[len(c)-1]
}

// Sum returns the sum of the observed values.
func (h *Histogram) Sum() float64 { return h.sum.load() }

// HistogramVec is a histogram family partitioned by label values.
type HistogramVec struct {
	v      *vec[Histogram]
	bounds []float64
	les    []string // formatted bounds, computed once
}

// NewHistogramVec registers (or returns the existing) histogram family name.
// buckets are upper bounds in increasing order; +Inf is implicit (a trailing
// +Inf is dropped). Registering again with other buckets panics.
func (r *Registry) NewHistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	bounds := normalizeBuckets(name, buckets)
	f := r.register(name, help, kindHistogram, labels, func() family {
		les := make([]string, len(bounds))
		for i, b := range bounds {
			les[i] = formatBound(b)
		}
		return &HistogramVec{
			bounds: bounds,
			les:    les,
			v: newVec(name, labels, func() *Histogram {
				return &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
			}),
		}
	})
	h := f.(*HistogramVec)
	if !slices.Equal(h.bounds, bounds) {
		panic(fmt.Sprintf("metrics: %s already registered with buckets %v, not %v", name, h.bounds, bounds))
	}
	return h
}

func normalizeBuckets(name string, buckets []float64) []float64 {
	b := slices.Clone(buckets)
	if n := len(b); n > 0 && math.IsInf(b[n-1], +1) {
		b = b[:n-1]
	}
	if len(b) == 0 {
		panic(fmt.Sprintf("metrics: %s: a histogram needs at least one finite bucket", name))
	}
	for i, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			panic(fmt.Sprintf("metrics: %s: bucket %v is not finite", name, v))
		}
		if i > 0 && v <= b[i-1] {
			panic(fmt.Sprintf("metrics: %s: buckets must increase strictly, got %v after %v", name, v, b[i-1]))
		}
	}
	return b
}

// With returns the histogram for the label values, in label order.
func (h *HistogramVec) With(values ...string) *Histogram { return h.v.with(values) }

func (h *HistogramVec) kind() string         { return kindHistogram }
func (h *HistogramVec) typ() string          { return "histogram" }
func (h *HistogramVec) labelNames() []string { return h.v.labelNames() }

func (h *HistogramVec) write(b *bytes.Buffer, name string) bool {
	children := h.v.sorted()
	labels := h.v.labels
	for _, s := range children {
		cumulative, sum := s.m.snapshot()
		for i, le := range h.les {
			writeSample(b, name+"_bucket", labels, s.values, "le", le, float64(cumulative[i]))
		}
		total := cumulative[len(cumulative)-1]
		writeSample(b, name+"_bucket", labels, s.values, "le", "+Inf", float64(total))
		writeSample(b, name+"_sum", labels, s.values, "", "", sum)
		writeSample(b, name+"_count", labels, s.values, "", "", float64(total))
	}
	return len(children) > 0
}

// ExponentialBuckets returns count bounds: start, start*factor, ...
func ExponentialBuckets(start, factor float64, count int) []float64 {
	if start <= 0 || factor <= 1 || count < 1 {
		panic(fmt.Sprintf("metrics: ExponentialBuckets(%v, %v, %d): need start > 0, factor > 1, count >= 1", start, factor, count))
	}
	b := make([]float64, count)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}
