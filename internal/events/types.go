package events

import "github.com/geotrack/geotrack/internal/eventtype"

// Event types geotrack consumes and emits (public contract); defined in
// internal/eventtype, which the event producers import directly.
const (
	TypeLocationReported = eventtype.LocationReported
	TypeLocationUpdated  = eventtype.LocationUpdated
	TypeEdgeStored       = eventtype.EdgeStored
)

// Geofence event types (geofence-detect).
const (
	TypeGeofenceEntered = eventtype.GeofenceEntered
	TypeGeofenceExited  = eventtype.GeofenceExited
	TypeGeofenceDwelled = eventtype.GeofenceDwelled
)

// ExtTenant is the extension attribute carrying the tenant on emitted events
// (the tenant never travels inside a fix).
const ExtTenant = eventtype.ExtTenant

// ExtSignature carries the emitter's signature of an event (auth.EventSigner).
const ExtSignature = eventtype.ExtSignature

// Movement event types (internal/eventtype).
const (
	TypeTripStarted = eventtype.TripStarted
	TypeTripEnded   = eventtype.TripEnded
	TypeStopStarted = eventtype.StopStarted
	TypeStopEnded   = eventtype.StopEnded
)
