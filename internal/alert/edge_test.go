package alert

import (
	"errors"
	"strings"
	"testing"

	"github.com/geotrack/geotrack/internal/fix"
)

const edgeRecordOK = `{"id":"al_0a1b","rule":"ru_1","name":"depot","kind":"event","device":"van-1",
 "fired_at":"2026-11-29T10:00:00Z","state":"delivered","attempts":1,"last_status":204,"done_at":"2026-11-29T10:00:01Z",
 "event":{"specversion":"1.0","id":"al_0a1b","type":"io.geotrack.alert.fired","tenant":"acme"},"node":"forged","next_attempt":"2026-11-29T10:05:00Z"}`

// TestDecodeEdgeReport: a report of complete records of the token's tenant
// decodes; anything else is a 400 naming the field.
func TestDecodeEdgeReport(t *testing.T) {
	with := func(old, new string) string { return `{"alerts":[` + strings.Replace(edgeRecordOK, old, new, 1) + `]}` }
	cases := []struct {
		name, body, field string
	}{
		{"ok", `{"alerts":[` + edgeRecordOK + `]}`, ""},
		{"unknown fields are ignored", `{"alerts":[` + edgeRecordOK + `],"from_a_newer_node":1}`, ""},
		{"empty", ``, "body"},
		{"not an object", `[]`, "body"},
		{"trailing", `{"alerts":[` + edgeRecordOK + `]} {}`, "body"},
		{"no alerts", `{"alerts":[]}`, "alerts"},
		{"too many", `{"alerts":[` + strings.Repeat(edgeRecordOK+",", MaxEdgeReport) + edgeRecordOK + `]}`, "alerts"},
		{"id", with(`"id":"al_0a1b","rule"`, `"id":"x y","rule"`), "alerts[0].id"},
		{"rule", with(`"rule":"ru_1"`, `"rule":""`), "alerts[0].rule"},
		{"kind", with(`"kind":"event"`, `"kind":"teleport"`), "alerts[0].kind"},
		{"device", with(`"device":"van-1"`, `"device":"van 1"`), "alerts[0].device"},
		{"fired_at missing", with(`"fired_at":"2026-11-29T10:00:00Z",`, ``), "alerts[0].fired_at"},
		{"state", with(`"state":"delivered"`, `"state":"lost"`), "alerts[0].state"},
		{"attempts", with(`"attempts":1`, `"attempts":-1`), "alerts[0].attempts"},
		{"last_status", with(`"last_status":204`, `"last_status":1000`), "alerts[0].last_status"},
		{"last_error", with(`"last_status":204`, `"last_error":"`+strings.Repeat("x", 1001)+`"`), "alerts[0].last_error"},
		{"no event", with(`"event":{"specversion":"1.0","id":"al_0a1b","type":"io.geotrack.alert.fired","tenant":"acme"}`, `"event":null`), "alerts[0].event.id"},
		{"event not an object", with(`"event":{"specversion":"1.0","id":"al_0a1b","type":"io.geotrack.alert.fired","tenant":"acme"}`, `"event":"x"`), "alerts[0].event"},
		{"event of another alert", with(`"specversion":"1.0","id":"al_0a1b"`, `"specversion":"1.0","id":"al_other"`), "alerts[0].event.id"},
		{"event of another type", with(`"type":"io.geotrack.alert.fired"`, `"type":"io.geotrack.geofence.entered"`), "alerts[0].event.type"},
		{"another tenant's alert", with(`"tenant":"acme"`, `"tenant":"globex"`), "alerts[0].event.tenant"},
		{"wrong type", with(`"attempts":1`, `"attempts":"1"`), "alerts.attempts"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs, err := DecodeEdgeReport([]byte(c.body), "acme")
			if c.field == "" {
				if err != nil || len(recs) != 1 || recs[0].ID != "al_0a1b" || recs[0].State != StateDelivered || recs[0].NextAttempt != nil {
					t.Fatalf("%+v %v", recs, err)
				}
				return
			}
			var fe *fix.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("error %v, want a field error naming %s", err, c.field)
			}
		})
	}
}

// FuzzDecodeEdgeReport: the decoder of edge alert reports never panics and
// fails only with a field error; what it accepts is the tenant's.
func FuzzDecodeEdgeReport(f *testing.F) {
	for _, seed := range []string{`{"alerts":[` + edgeRecordOK + `]}`, `{"alerts":[{"id":"al_1"}]}`, `{"alerts":null}`, `{`, ``, `[]`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := DecodeEdgeReport(data, "acme")
		if err != nil {
			var fe *fix.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error without a field: %v", err)
			}
			return
		}
		if len(recs) == 0 || len(recs) > MaxEdgeReport {
			t.Fatalf("accepted %d records", len(recs))
		}
		for _, r := range recs {
			if err := r.validateReported("acme"); err != nil {
				t.Fatalf("accepted an invalid record: %v", err)
			}
		}
	})
}
