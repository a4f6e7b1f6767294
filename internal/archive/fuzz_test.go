package archive

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// FuzzRoundTrip: any valid fix, as the hot store returns it (through its
// JSON: invalid UTF-8 in attrs is U+FFFD there), comes back from its row
// exactly, through Parquet too.
func FuzzRoundTrip(f *testing.F) {
	f.Add(52.5200066, 13.404954, 34.5, 0.87, int64(1767225600123), "k", "v")
	f.Add(-85.05112878, 180.0, -12000.0, 1.0/3, int64(0), "~exact", "x")
	f.Add(1e-9, -1e-7, 99999.99, 0.0, int64(253402300799999), "", "")
	f.Fuzz(func(t *testing.T, lat, lon, alt, battery float64, ms int64, key, value string) {
		fx := fix.Fix{Device: "d", TS: time.UnixMilli(ms).UTC(), Lat: lat, Lon: lon, Alt: &alt, Battery: &battery}
		if key != "" {
			fx.Attrs = map[string]string{key: value}
		}
		if fix.Validate(&fx, time.Now()) != nil || math.Signbit(lat) && lat == 0 || math.Signbit(lon) && lon == 0 {
			return // only valid fixes are archived; -0 is stored as 0 by the hot store's JSON too
		}
		var stored fix.Fix
		if err := json.Unmarshal(fx.AppendJSON(nil), &stored); err != nil {
			t.Fatal(err)
		}
		fx = stored
		row, err := FromFix(fx)
		if err != nil {
			return // an attr named ExactKey on a fix that needs exact values
		}
		data, err := Encode([]Row{row})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := Decode(data)
		if err != nil || len(rows) != 1 {
			t.Fatalf("decode: %v (%d rows)", err, len(rows))
		}
		back, err := rows[0].Fix()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, fx) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", back, fx)
		}
	})
}
