// Package eventtype names the CloudEvents types and extension attributes
// geotrack consumes and emits (public contract), and writes the structured
// events it emits (AppendStructured). It imports only the standard library, so the
// clients that only produce events (sender, forward) share the names with
// the server's decoding (internal/events, which re-exports them) without
// pulling it in.
package eventtype

// Event types.
const (
	LocationReported = "io.geotrack.location.reported"
	LocationUpdated  = "io.geotrack.location.updated"
	EdgeStored       = "io.geotrack.edge.stored"
)

// Geofence events (issue 9 §2), subject = device.
const (
	GeofenceEntered = "io.geotrack.geofence.entered"
	GeofenceExited  = "io.geotrack.geofence.exited"
	GeofenceDwelled = "io.geotrack.geofence.dwelled"
)

// ExtTenant is the extension attribute carrying the tenant on emitted events
// (the tenant never travels inside a fix).
const ExtTenant = "tenant"

// Alerts (issue 9 §3): the event notify fires and delivers to webhooks.
const AlertFired = "io.geotrack.alert.fired"

// Movement events (emitted by movement).
const (
	TripStarted = "io.geotrack.trip.started"
	TripEnded   = "io.geotrack.trip.ended"
	StopStarted = "io.geotrack.stop.started"
	StopEnded   = "io.geotrack.stop.ended"
)

// ExtSignature is the extension attribute carrying the emitter's signature
// of an event (internal/auth EventSigner): a receiver accepts a signed
// delivery without an Authorization header.
const ExtSignature = "geotracksig"
