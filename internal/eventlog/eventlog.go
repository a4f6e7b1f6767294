// Package eventlog names the query of a tenant's event log (the geofence,
// alert and trip events it emitted, kept for the hot retention), which the
// events function serves and internal/redisstore implements.
package eventlog

import (
	"encoding/json"
	"time"
)

// Page sizes of the events function (public contract: limit ≤ MaxLimit).
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Query selects events of a tenant's log.
type Query struct {
	Device, Type string    // subject and type; "" = any
	From, To     time.Time // event time bounds, inclusive; zero = open
	Cursor       string    // "" or the Next of an earlier page
	Limit        int
}

// Page is one page of the log, oldest first, each event a structured-mode
// CloudEvent JSON object.
type Page struct {
	Events []json.RawMessage
	Next   string // "" when the log has no more entries (for now)
}
