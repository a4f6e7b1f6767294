package archive

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzRowFix: whatever an object's attrs column holds, converting a
// row (Row.Fix, the archiver's and the cold reader's one conversion) never panics; it fails only with an error naming the row's ts, and
// a row it accepts gives a fix whose JSON is valid.
func FuzzRowFix(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"a":"b"}`, `{"~exact":{"lat":1.5,"alt":2}}`, `{"~exact":[1]}`, `{"a":1}`, `[`, `null`, `{"~exact":{"x":1e400}}`} {
		f.Add(s, int64(1764000000000), int32(470000000), int64(-1200000), int32(-1))
	}
	f.Fuzz(func(t *testing.T, attrs string, ts int64, lat int32, lon int64, hr int32) {
		r := Row{Device: "d1", TS: ts, LatE7: lat, LonE7: lon}
		if hr >= 0 {
			r.HR = &hr
		}
		if attrs != "" {
			r.Attrs = &attrs
		}
		got, err := r.Fix()
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
