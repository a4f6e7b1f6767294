package events

// Event types geotrack consumes and emits (public contract).
const (
	TypeLocationReported = "io.geotrack.location.reported"
	TypeLocationUpdated  = "io.geotrack.location.updated"
	TypeEdgeStored       = "io.geotrack.edge.stored"
)

// ExtTenant is the extension attribute carrying the tenant on emitted events
// (the tenant never travels inside a fix).
const ExtTenant = "tenant"
