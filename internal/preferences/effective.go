package preferences

import (
	"time"

	"github.com/geotrack/geotrack/internal/edgefilter"
	"github.com/geotrack/geotrack/internal/trips"
)

// Effective is what applies to one device: the built-in defaults, then the
// tenant's document, then the device's, key by key.
type Effective struct {
	Paused        bool
	Filter        edgefilter.Settings
	FilterSet     bool // a document set filter keys (else the edge's own configuration applies)
	Trips         trips.Rules
	PrivacyZones  []Zone
	IntervalS     float64 // 0: no hint
	DisplacementM float64
	ReportSet     bool
	Retention     time.Duration // 0: the store's default
}

// Resolve combines tenant and device documents (both already valid).
func Resolve(tenant, device Document, filterBase edgefilter.Settings) Effective {
	e := Effective{Filter: filterBase, Trips: trips.DefaultRules()}
	for _, d := range []Document{tenant, device} {
		if d.Tracking != "" {
			e.Paused = d.Tracking == TrackingPaused
		}
		if len(d.Filter) > 0 {
			if s, err := FilterSettings(e.Filter, d.Filter); err == nil {
				e.Filter, e.FilterSet = s, true
			}
		}
		if d.Trips != nil {
			if r, err := d.Trips.apply(e.Trips); err == nil {
				e.Trips = r
			}
		}
		// Zones add up: a device's own zones cannot lift its tenant's.
		e.PrivacyZones = append(e.PrivacyZones, d.PrivacyZones...)
		if d.Report != nil {
			e.ReportSet = true
			if d.Report.IntervalS != nil {
				e.IntervalS = *d.Report.IntervalS
			}
			if d.Report.DisplacementM != nil {
				e.DisplacementM = *d.Report.DisplacementM
			}
		}
		if d.Retention != "" {
			e.Retention, _ = time.ParseDuration(d.Retention)
		}
	}
	return e
}
