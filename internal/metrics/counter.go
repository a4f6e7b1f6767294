package metrics

import (
	"bytes"
	"fmt"
	"math"
	"sync/atomic"
)

// atomicFloat is a float64 updated without locks.
type atomicFloat struct{ bits atomic.Uint64 }

func (a *atomicFloat) load() float64   { return math.Float64frombits(a.bits.Load()) }
func (a *atomicFloat) store(v float64) { a.bits.Store(math.Float64bits(v)) }

func (a *atomicFloat) add(v float64) {
	for {
		old := a.bits.Load()
		next := math.Float64bits(math.Float64frombits(old) + v)
		if a.bits.CompareAndSwap(old, next) {
			return
		}
	}
}

// Counter only goes up.
type Counter struct {
	name string
	v    atomicFloat
}

// Inc adds one.
func (c *Counter) Inc() { c.v.add(1) }

// Add adds n, which must not be negative: a counter that goes down breaks
// rate() in Prometheus, so that is a bug worth a panic.
func (c *Counter) Add(n float64) {
	if n < 0 || math.IsNaN(n) {
		panic(fmt.Sprintf("metrics: %s: counter cannot add %v", c.name, n))
	}
	c.v.add(n)
}

// Value returns the current count.
func (c *Counter) Value() float64 { return c.v.load() }

// CounterVec is a counter family partitioned by label values.
type CounterVec struct{ v *vec[Counter] }

// NewCounterVec registers (or returns the existing) counter family name.
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	f := r.register(name, help, kindCounter, labels, func() family {
		return &CounterVec{v: newVec(name, labels, func() *Counter { return &Counter{name: name} })}
	})
	return f.(*CounterVec)
}

// NewCounter registers (or returns the existing) counter without labels.
func (r *Registry) NewCounter(name, help string) *Counter {
	return r.NewCounterVec(name, help).With()
}

// With returns the counter for the label values, in label order.
func (c *CounterVec) With(values ...string) *Counter { return c.v.with(values) }

func (c *CounterVec) kind() string         { return kindCounter }
func (c *CounterVec) typ() string          { return "counter" }
func (c *CounterVec) labelNames() []string { return c.v.labelNames() }
func (c *CounterVec) write(b *bytes.Buffer, name string) bool {
	return writeScalars(b, name, c.v, (*Counter).Value)
}
