package outbox

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// FuzzDecodeEntry: whatever a stream entry holds, decodeEntry does not panic,
// and what it accepts passes fix.Validate and survives a re-encode unchanged.
func FuzzDecodeEntry(f *testing.F) {
	good, _ := encodeFix(fix.Fix{Device: "d1", TS: baseTS, Lat: 1, Lon: 2, Speed: fix.Float(3)})
	f.Add(good, "acme")
	f.Add(`{"device":"d","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"attrs":{"a":"b"}}`, "")
	f.Add(`{"device":"d","ts":"2026-11-25T10:00:00Z","lat":1e999,"lon":2}`, "t")
	f.Add(`{"device":"","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2}`, "t")
	f.Add(`{"device":"d","ts":"9999-11-25T10:00:00Z","lat":1,"lon":2}`, "t")
	f.Add(`{"device":"d","ts":"2026-11-25T10:00:00Z","lat":1,"lon":2,"tenant":"x"}`, "t")
	f.Add(`[1,2]`, "t")
	f.Add(`{`, "t")
	f.Add(``, "")
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw, tenant string) {
		e, err := decodeEntry("1-1", map[string]any{fieldFix: raw, fieldTenant: tenant}, now)
		if err != nil {
			return
		}
		if err := fix.Validate(&e.Fix, now); err != nil {
			t.Fatalf("accepted %q but Validate: %v", raw, err)
		}
		if e.Tenant != tenant || e.ID != "1-1" {
			t.Fatalf("entry %+v lost tenant %q or id", e, tenant)
		}
		again, err := encodeFix(e.Fix)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		e2, err := decodeEntry("1-1", map[string]any{fieldFix: again}, now)
		if err != nil {
			t.Fatalf("re-encoded %s no longer decodes: %v", again, err)
		}
		a, _ := json.Marshal(e.Fix)
		b, _ := json.Marshal(e2.Fix)
		if string(a) != string(b) {
			t.Fatalf("round trip changed the fix: %s -> %s", a, b)
		}
	})
}
