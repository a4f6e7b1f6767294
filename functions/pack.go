// Package functions lists every function of the pack and wires each one
// from its environment: the one place that knows which adapters a function
// gets. `geotrack serve <name>` and `geotrack dev` both build from here.
package functions

import (
	"context"
	"fmt"
	"sort"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/events"
)

// Spec describes one function of the pack.
type Spec struct {
	Name       string   // == directory name under functions/ and the stack.yml entry
	Config     any      // pointer to the function's envconfig struct
	Subscribes []string // CloudEvent types that trigger it (stack.yml topic)
	Schedule   string   // cron schedule ("" = none): topic cron-function
	Edge       bool     // also deployed on edge nodes
	Emits      []string // event types it emits
	Build      func(ctx context.Context, deps *Deps) (*Built, error)
}

// Built is a constructed function with its readiness probe.
type Built struct {
	Handler handler.FunctionHandler
	Ready   func(ctx context.Context) error
	Close   func() error
}

// All is the pack, sorted by name.
var All []Spec

func add(s Spec) {
	All = append(All, s)
	sort.Slice(All, func(i, j int) bool { return All[i].Name < All[j].Name })
}

// Lookup finds a function by name.
func Lookup(name string) (Spec, error) {
	for _, s := range All {
		if s.Name == name {
			return s, nil
		}
	}
	names := make([]string, len(All))
	for i, s := range All {
		names[i] = s.Name
	}
	return Spec{}, fmt.Errorf("no function %q (have %v)", name, names)
}

// Subscribers returns the functions triggered by eventType.
func Subscribers(eventType string) []Spec {
	var out []Spec
	for _, s := range All {
		for _, t := range s.Subscribes {
			if t == eventType {
				out = append(out, s)
			}
		}
	}
	return out
}

// KnownEventTypes is every event type some function emits or consumes.
func KnownEventTypes() []string {
	seen := map[string]bool{events.TypeLocationReported: true}
	for _, s := range All {
		for _, t := range append(append([]string{}, s.Emits...), s.Subscribes...) {
			seen[t] = true
		}
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
