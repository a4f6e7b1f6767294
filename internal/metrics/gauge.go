package metrics

import "bytes"

// Gauge goes up and down.
type Gauge struct{ v atomicFloat }

// Set sets the gauge to v.
func (g *Gauge) Set(v float64) { g.v.store(v) }

// Add adds n (which may be negative).
func (g *Gauge) Add(n float64) { g.v.add(n) }

// Inc adds one.
func (g *Gauge) Inc() { g.v.add(1) }

// Dec subtracts one.
func (g *Gauge) Dec() { g.v.add(-1) }

// Value returns the current value.
func (g *Gauge) Value() float64 { return g.v.load() }

// GaugeVec is a gauge family partitioned by label values.
type GaugeVec struct{ v *vec[Gauge] }

// NewGaugeVec registers (or returns the existing) gauge family name.
func (r *Registry) NewGaugeVec(name, help string, labels ...string) *GaugeVec {
	f := r.register(name, help, kindGauge, labels, func() family {
		return &GaugeVec{v: newVec(name, labels, func() *Gauge { return &Gauge{} })}
	})
	return f.(*GaugeVec)
}

// NewGauge registers (or returns the existing) gauge without labels.
func (r *Registry) NewGauge(name, help string) *Gauge {
	return r.NewGaugeVec(name, help).With()
}

// With returns the gauge for the label values, in label order.
func (g *GaugeVec) With(values ...string) *Gauge { return g.v.with(values) }

func (g *GaugeVec) kind() string         { return kindGauge }
func (g *GaugeVec) typ() string          { return "gauge" }
func (g *GaugeVec) labelNames() []string { return g.v.labelNames() }
func (g *GaugeVec) write(b *bytes.Buffer, name string) bool {
	return writeScalars(b, name, g.v, (*Gauge).Value)
}

// GaugeFunc is a gauge whose value is computed at scrape time, for values the
// process already knows (goroutines, heap) and need no bookkeeping.
type GaugeFunc struct{ fn func() float64 }

// NewGaugeFunc registers (or returns the existing) gauge function name. When
// the name exists, the first function is kept.
func (r *Registry) NewGaugeFunc(name, help string, fn func() float64) *GaugeFunc {
	f := r.register(name, help, kindGaugeFunc, nil, func() family { return &GaugeFunc{fn: fn} })
	return f.(*GaugeFunc)
}

func (g *GaugeFunc) kind() string         { return kindGaugeFunc }
func (g *GaugeFunc) typ() string          { return "gauge" }
func (g *GaugeFunc) labelNames() []string { return nil }
func (g *GaugeFunc) write(b *bytes.Buffer, name string) bool {
	writeSample(b, name, nil, nil, "", "", g.fn())
	return true
}
