package edgefilter

import (
	"fmt"

	"github.com/geotrack/geotrack/internal/fix"
)

// StateVersion is bumped when State's meaning changes incompatibly.
const StateVersion = 1

// State is a JSON-serialisable snapshot of a Filter, so a stateless edge
// function can keep it per device (e.g. in Redis) between invocations.
// Timestamps travel in fix's wire format (millisecond precision); fixes with
// finer timestamps come back rounded to the millisecond.
type State struct {
	Version int       `json:"v"`
	Last    *fix.Fix  `json:"last,omitempty"`
	Held    *fix.Fix  `json:"held,omitempty"`
	Anchor  *fix.Fix  `json:"anchor,omitempty"`
	Pending []fix.Fix `json:"pending,omitempty"`
}

// State returns a snapshot that shares no memory with f.
func (f *Filter) State() State {
	st := State{Version: StateVersion, Last: clonePtr(f.last), Held: clonePtr(f.held), Anchor: clonePtr(f.anchor)}
	for _, p := range f.buf {
		st.Pending = append(st.Pending, cloneFix(p))
	}
	return st
}

// FromState rebuilds a Filter from a snapshot taken with State.
func FromState(s Settings, st State) (*Filter, error) {
	if st.Version != StateVersion {
		return nil, fmt.Errorf("edgefilter state: version %d, want %d", st.Version, StateVersion)
	}
	if len(st.Pending) > 0 && st.Anchor == nil {
		return nil, fmt.Errorf("edgefilter state: %d pending fixes but no anchor", len(st.Pending))
	}
	for i := 1; i < len(st.Pending); i++ {
		if !st.Pending[i].TS.After(st.Pending[i-1].TS) {
			return nil, fmt.Errorf("edgefilter state: pending fix %d is not after fix %d", i, i-1)
		}
	}
	f := New(s)
	if st.Held != nil && st.Last == nil {
		return nil, fmt.Errorf("edgefilter state: a held fix but no last fix")
	}
	f.last, f.held, f.anchor = clonePtr(st.Last), clonePtr(st.Held), clonePtr(st.Anchor)
	for _, p := range st.Pending {
		f.hold(cloneFix(p))
	}
	return f, nil
}

func clonePtr(p *fix.Fix) *fix.Fix {
	if p == nil {
		return nil
	}
	c := cloneFix(*p)
	return &c
}

// cloneFix deep-copies the pointer and map fields so a snapshot cannot be
// changed through the live filter or vice versa.
func cloneFix(f fix.Fix) fix.Fix {
	cp := func(v *float64) *float64 {
		if v == nil {
			return nil
		}
		return fix.Float(*v)
	}
	f.Alt, f.Acc, f.Speed, f.Heading, f.Battery = cp(f.Alt), cp(f.Acc), cp(f.Speed), cp(f.Heading), cp(f.Battery)
	if f.Attrs != nil {
		m := make(map[string]string, len(f.Attrs))
		for k, v := range f.Attrs {
			m[k] = v
		}
		f.Attrs = m
	}
	return f
}
