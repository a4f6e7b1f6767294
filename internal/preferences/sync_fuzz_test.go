package preferences_test

import (
	"testing"

	"github.com/geotrack/geotrack/internal/edgefilter"
	"github.com/geotrack/geotrack/internal/preferences"
)

// FuzzDecodeSyncedSet: the edge's decoder of GET preferences?all=true
// replies never panics, and every document it accepts validates and
// resolves.
func FuzzDecodeSyncedSet(f *testing.F) {
	f.Add([]byte(`{"tenant_id":"acme","version":3,"tenant":{"filter":{"window_points":3}},"devices":{"van-1":{"privacy_zones":[{"name":"home","lat":1,"lon":2,"radius_m":50}]}}}`))
	f.Add([]byte(`{"tenant_id":"acme","devices":{"van-1":{"trips":{"min_duration_s":1e300}}}}`))
	f.Add([]byte(`{"devices":null}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, body []byte) {
		set, err := preferences.DecodeSyncedSet(body)
		if err != nil {
			return
		}
		if err := set.Tenant.Validate(); err != nil {
			t.Fatalf("accepted an invalid tenant document: %v", err)
		}
		for dev, d := range set.Devices {
			if err := d.Validate(); err != nil {
				t.Fatalf("accepted an invalid document of %s: %v", dev, err)
			}
			_ = preferences.Resolve(set.Tenant, d, edgefilter.DefaultSettings())
		}
	})
}
