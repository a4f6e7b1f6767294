// Package functions is the pack: the list of every function with its
// metadata and how each is built from its environment and dependencies.
// It is the one source of truth about a function: `geotrack serve <name>`
// builds from it, `geotrack dev` routes events by it, and tests fail when
// stack.yml, the chart's values, edge-k3s or openapi.yaml disagree with it.
package functions

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/alerts"
	"github.com/geotrack/geotrack/functions/archiver"
	auditfn "github.com/geotrack/geotrack/functions/audit"
	"github.com/geotrack/geotrack/functions/dashboard"
	edgeingest "github.com/geotrack/geotrack/functions/edge-ingest"
	eventsfn "github.com/geotrack/geotrack/functions/events"
	"github.com/geotrack/geotrack/functions/forwarder"
	geofencedetect "github.com/geotrack/geotrack/functions/geofence-detect"
	"github.com/geotrack/geotrack/functions/geofences"
	"github.com/geotrack/geotrack/functions/ingest"
	"github.com/geotrack/geotrack/functions/movement"
	"github.com/geotrack/geotrack/functions/nearby"
	"github.com/geotrack/geotrack/functions/notify"
	"github.com/geotrack/geotrack/functions/osmand"
	"github.com/geotrack/geotrack/functions/owntracks"
	"github.com/geotrack/geotrack/functions/position"
	"github.com/geotrack/geotrack/functions/preferences"
	"github.com/geotrack/geotrack/functions/privacy"
	"github.com/geotrack/geotrack/functions/rules"
	"github.com/geotrack/geotrack/functions/tokens"
	"github.com/geotrack/geotrack/functions/track"
	"github.com/geotrack/geotrack/functions/trips"
	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/httpkit"
)

// Spec describes one function of the pack.
type Spec struct {
	Name       string   // == directory name under functions/ and the stack.yml entry
	Config     any      // pointer to the function's envconfig struct
	Subscribes []string // CloudEvent types that trigger it (stack.yml topic)
	Schedule   string   // cron schedule ("" = none): topic cron-function
	Edge       bool     // runs on edge nodes: the chart places it there (stack.yml geotrack.io/edge)
	EdgeSite   bool     // part of an edge site (edge-k3s): the Edge ones, and reads that answer during a cloud outage; built for linux/arm64 too
	Emits      []string // event types it emits
	Build      func(ctx context.Context, deps *Deps) (*Built, error)
}

// Built is a constructed function with its readiness probe.
type Built struct {
	Handler handler.FunctionHandler
	// HTTP, set instead of Handler, is a function that needs the request
	// path, which the go-http SDK's Request lacks (the dashboard serves
	// files); it is served with httpkit.PlainHandler's runtime.
	HTTP  http.Handler
	Ready func(ctx context.Context) error
	Close func() error
	// ReadyDetail, when set, is shown on a 200 /_/ready (nil: just OK).
	ReadyDetail func() string
	// Admit, when set, admits each request before its body is read
	// (httpkit.Options.Admit).
	Admit func(*http.Request) (func(), error)
}

// forwardSchedule is how often the cron-connector drains the edge outbox.
const forwardSchedule = "*/1 * * * *"

// Pack returns every function of the pack, sorted by name. Each call
// returns a new list: nothing registers itself and nothing is global.
func Pack() []Spec {
	pack := []Spec{
		{
			Name: "alerts", Config: &alerts.Config{},
			// io.geotrack.alert.fired of the alerts edge nodes report.
			Emits: []string{alert.TypeAlertFired},
			Build: buildAlerts,
		},
		// Issue 11 (h13): the archive tier.
		{
			Name: "archiver", Config: &archiver.Config{},
			// No Schedule: passes run in the process every ARCHIVE_INTERVAL
			// (stack.yml: 1h), because a cron-connector or PingSource tick
			// carries no token and the handler runs a pass only for a
			// service or admin token (a POST by hand, by `geotrack invoke`
			// or the chart's optional archiver.cronJob).
			// EdgeSite: an edge node keeps per-device history in its Redis;
			// edge-k3s/base/archiver.yaml archives it to a site bucket
			// (replicas 0: off by default).
			EdgeSite: true,
			Build:    buildArchiver,
		},
		{
			Name: "edge-ingest", Config: &edgeingest.Config{}, Edge: true, EdgeSite: true,
			Emits: []string{events.TypeEdgeStored},
			Build: buildEdgeIngest,
		},
		// Issue 13 (h17): the web dashboard, an http.Handler (Built.HTTP).
		{
			Name: "dashboard", Config: &dashboard.Config{}, EdgeSite: true,
			Build: buildDashboard,
		},
		// Issue 9 (h7): geofences, geofence-detect, events.
		{
			Name: "events", Config: &eventsfn.Config{},
			Build: buildEvents,
		},
		{
			Name: "forwarder", Config: &forwarder.Config{}, Edge: true, EdgeSite: true,
			Subscribes: []string{events.TypeEdgeStored}, Schedule: forwardSchedule,
			Build: buildForwarder,
		},
		// Not EdgeSite: at an edge site, detection and the rules run inside
		// edge-ingest, owntracks and osmand on the fences and rules synced
		// from the cloud (RULES_URL, internal/edge Alerts); notify delivers.
		{
			Name: "geofence-detect", Config: &geofencedetect.Config{},
			Subscribes: []string{events.TypeLocationUpdated},
			Emits:      []string{events.TypeGeofenceDwelled, events.TypeGeofenceEntered, events.TypeGeofenceExited},
			Build:      buildGeofenceDetect,
		},
		{
			Name: "geofences", Config: &geofences.Config{},
			Build: buildGeofences,
		},
		{
			Name: "ingest", Config: &ingest.Config{},
			Subscribes: []string{events.TypeLocationReported}, Emits: []string{events.TypeLocationUpdated},
			Build: buildIngest,
		},
		{
			Name: "movement", Config: &movement.Config{},
			Subscribes: []string{events.TypeLocationUpdated},
			Emits:      []string{events.TypeTripStarted, events.TypeTripEnded, events.TypeStopStarted, events.TypeStopEnded},
			Build:      buildMovement,
		},
		{
			Name: "nearby", Config: &nearby.Config{}, EdgeSite: true,
			Build: buildNearby,
		},
		{
			Name: "notify", Config: &notify.Config{}, EdgeSite: true,
			Subscribes: []string{events.TypeGeofenceDwelled, events.TypeGeofenceEntered, events.TypeGeofenceExited, events.TypeLocationUpdated,
				events.TypeStopEnded, events.TypeStopStarted, events.TypeTripEnded, events.TypeTripStarted},
			// No Schedule: the silence sweep and deliveries run in the process
			// (SILENCE_SWEEP_INTERVAL, DELIVERY_INTERVAL), so on OpenFaaS its
			// topic can name these events (a cron-function gets none).
			Emits: []string{alert.TypeAlertFired},
			Build: buildNotify,
		},
		{
			Name: "osmand", Config: &osmand.Config{}, Edge: true, EdgeSite: true,
			Emits: []string{events.TypeLocationUpdated, events.TypeEdgeStored},
			Build: buildOsmAnd,
		},
		{
			Name: "owntracks", Config: &owntracks.Config{}, Edge: true, EdgeSite: true,
			Emits: []string{events.TypeLocationUpdated, events.TypeEdgeStored},
			Build: buildOwnTracks,
		},
		{
			Name: "position", Config: &position.Config{}, EdgeSite: true,
			Build: buildPosition,
		},
		{
			Name: "rules", Config: &rules.Config{},
			Build: buildRules,
		},
		{
			Name: "preferences", Config: &preferences.Config{},
			Build: buildPreferences,
		},
		{
			Name: "track", Config: &track.Config{}, EdgeSite: true,
			Build: buildTrack,
		},
		{
			Name: "trips", Config: &trips.Config{},
			Build: buildTrips,
		},
		// Issue 12 (h16): token revocation and the audit trail.
		{
			Name: "audit", Config: &auditfn.Config{},
			Build: buildAudit,
		},
		{
			Name: "tokens", Config: &tokens.Config{},
			Build: buildTokens,
		},
		// Issue 12 §1 (h20): GDPR export and erasure.
		{
			Name: "privacy", Config: &privacy.Config{},
			Build: buildPrivacy,
		},
	}
	// Sorted here rather than by hand, so entries added on parallel
	// branches merge in any order.
	slices.SortFunc(pack, func(a, b Spec) int { return strings.Compare(a.Name, b.Name) })
	return pack
}

// Serve returns the HTTP handler of a built function with the runtime of
// httpkit (limits, metrics, access log): FunctionHandler for a go-http
// function, PlainHandler for one built as an http.Handler.
func (b *Built) Serve(opts httpkit.Options) http.Handler {
	if b.HTTP != nil {
		return httpkit.PlainHandler(b.HTTP, opts)
	}
	if b.Admit != nil {
		opts.Admit = b.Admit
	}
	return httpkit.FunctionHandler(b.Handler, opts)
}

// Names returns the names of the pack's functions, sorted.
func Names() []string {
	var names []string
	for _, s := range Pack() {
		names = append(names, s.Name)
	}
	return names
}

// Lookup finds a function by name.
func Lookup(name string) (Spec, error) {
	for _, s := range Pack() {
		if s.Name == name {
			return s, nil
		}
	}
	return Spec{}, fmt.Errorf("no function %q (have %v)", name, Names())
}

// Subscribers maps each event type to the functions it triggers, sorted:
// how `geotrack dev` routes events, as the connectors do from stack.yml.
func Subscribers() map[string][]string {
	out := map[string][]string{}
	for _, s := range Pack() {
		for _, t := range s.Subscribes {
			out[t] = append(out[t], s.Name)
		}
	}
	for _, names := range out {
		slices.Sort(names)
	}
	return out
}

// KnownEventTypes is every event type some function emits or consumes,
// plus io.geotrack.location.reported, which devices publish from outside.
func KnownEventTypes() []string {
	types := []string{events.TypeLocationReported}
	for _, s := range Pack() {
		types = append(types, s.Emits...)
		types = append(types, s.Subscribes...)
	}
	slices.Sort(types)
	return slices.Compact(types)
}
