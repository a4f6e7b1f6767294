package edgefilter

import (
	"slices"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// Bank holds one Filter per device, created on first use.
// Not safe for concurrent use.
type Bank struct {
	s       Settings
	filters map[string]*Filter
}

// NewBank returns an empty Bank whose filters use s.
func NewBank(s Settings) *Bank { return &Bank{s: s, filters: map[string]*Filter{}} }

// Push routes x to its device's filter (see Filter.Push).
func (b *Bank) Push(x fix.Fix, now time.Time) ([]fix.Fix, Reason) {
	f, ok := b.filters[x.Device]
	if !ok {
		f = New(b.s)
		b.filters[x.Device] = f
	}
	return f.Push(x, now)
}

// Filter returns the device's filter, or nil.
func (b *Bank) Filter(device string) *Filter { return b.filters[device] }

// Set installs a filter for device, e.g. one restored with FromState.
func (b *Bank) Set(device string, f *Filter) { b.filters[device] = f }

// FlushAll ends every session, devices in sorted order so the output is
// deterministic.
func (b *Bank) FlushAll() []fix.Fix {
	devices := make([]string, 0, len(b.filters))
	for d := range b.filters {
		devices = append(devices, d)
	}
	slices.Sort(devices)
	var out []fix.Fix
	for _, d := range devices {
		out = append(out, b.filters[d].Flush()...)
	}
	return out
}
