// Package fix defines the canonical GPS fix every protocol adapter converts to,
// and the validation every fix passes before it is stored or forwarded.
// It is pure domain code: no HTTP, Redis or S3.
package fix

import "time"

// Fix is one position report of one device. Units: metres, m/s, degrees, 0..1.
type Fix struct {
	Device  string            `json:"device"`
	TS      time.Time         `json:"ts"`
	Lat     float64           `json:"lat"`
	Lon     float64           `json:"lon"`
	Alt     *float64          `json:"alt,omitempty"`
	Acc     *float64          `json:"acc,omitempty"`
	Speed   *float64          `json:"speed,omitempty"`
	Heading *float64          `json:"heading,omitempty"`
	Battery *float64          `json:"battery,omitempty"`
	Attrs   map[string]string `json:"attrs,omitempty"`
}

// Float returns a pointer to v, for the optional fields.
func Float(v float64) *float64 { return &v }

// FormatTime is the one textual time format geotrack emits.
func FormatTime(t time.Time) string {
	return string(AppendTime(make([]byte, 0, 24), t))
}

// AttrEdgeAlerts is the attribute an edge node that evaluates geofences and
// alert rules itself puts on the fixes it forwards: its node id. The cloud
// then records what they cause but fires no alert for them (the edge did),
// so a webhook sees each alert once. Only a service token (the forwarder's)
// may carry it into the cloud: intake strips it from other callers' fixes.
const AttrEdgeAlerts = "edge_alerts"

// EdgeEvaluated is the edge node that fired f's alerts ("" for none).
func (f Fix) EdgeEvaluated() string { return f.Attrs[AttrEdgeAlerts] }
