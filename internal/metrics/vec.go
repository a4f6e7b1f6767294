package metrics

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
)

// series is one child of a vector: its label values and its value holder.
type series[T any] struct {
	values []string
	m      *T
}

// vec maps label values to children. Lookups of existing children take a
// read lock and do not allocate, so With on a hot path is cheap.
type vec[T any] struct {
	name     string
	labels   []string
	newChild func() *T
	mu       sync.RWMutex
	children map[string]series[T]
}

func newVec[T any](name string, labels []string, newChild func() *T) *vec[T] {
	return &vec[T]{name: name, labels: slices.Clone(labels), newChild: newChild, children: make(map[string]series[T])}
}

// keySep cannot appear in valid UTF-8, so joined keys are unambiguous.
const keySep = 0xff

func (v *vec[T]) with(values []string) *T {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %s: got %d label values for labels %v", v.name, len(values), v.labels))
	}
	var buf [128]byte
	key := buf[:0]
	for _, s := range values {
		key = append(key, s...)
		key = append(key, keySep)
	}
	v.mu.RLock()
	s, ok := v.children[string(key)] // no allocation: the compiler special-cases this conversion
	v.mu.RUnlock()
	if ok {
		return s.m
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.children[string(key)]; ok {
		return s.m
	}
	s = series[T]{values: slices.Clone(values), m: v.newChild()}
	v.children[string(key)] = s
	return s.m
}

// sorted returns the children ordered by their label values.
func (v *vec[T]) sorted() []series[T] {
	v.mu.RLock()
	out := make([]series[T], 0, len(v.children))
	for _, s := range v.children {
		out = append(out, s)
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b series[T]) int { return slices.Compare(a.values, b.values) })
	return out
}

func (v *vec[T]) labelNames() []string { return v.labels }

// writeScalars writes one sample per child for counters and gauges.
func writeScalars[T any](b *bytes.Buffer, name string, v *vec[T], value func(*T) float64) bool {
	children := v.sorted()
	for _, s := range children {
		writeSample(b, name, v.labels, s.values, "", "", value(s.m))
	}
	return len(children) > 0
}
