package archive

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzColdFixOfRow: whatever an object's attrs column holds, converting a
// row never panics; it fails only with an error naming the row's ts, and
// a row it accepts gives a fix whose JSON is valid.
func FuzzColdFixOfRow(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"a":"b"}`, `{"~exact":{"lat":1.5,"alt":2}}`, `{"~exact":[1]}`, `{"a":1}`, `[`, `null`, `{"~exact":{"x":1e400}}`} {
		f.Add(s, int64(1764000000000), int32(470000000), int32(-1200000))
	}
	f.Fuzz(func(t *testing.T, attrs string, ts int64, lat, lon int32) {
		r := Row{Device: "d1", TS: ts, LatE7: lat, LonE7: lon}
		if attrs != "" {
			r.Attrs = &attrs
		}
		got, err := coldFixOfRow(&r)
		if err != nil {
			if !strings.Contains(err.Error(), "ts ") {
				t.Fatalf("error without the row's ts: %v", err)
			}
			return
		}
		if got.Device != "d1" || got.TS.UnixMilli() != ts {
			t.Fatalf("fix %+v of row %+v", got, r)
		}
		if js := got.AppendJSON(nil); !json.Valid(js) {
			t.Fatalf("fix JSON %s", js)
		}
	})
}
