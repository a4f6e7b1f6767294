package eventtype

import (
	"encoding/json"
	"testing"
)

// reference is what encoding/json gives for the event AppendStructured
// writes by hand.
type reference struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Tenant          string          `json:"tenant"`
	TraceParent     string          `json:"traceparent,omitempty"`
	Data            json.RawMessage `json:"data"`
}

func TestAppendStructuredIsWhatEncodingJSONGives(t *testing.T) {
	cases := []struct {
		name string
		head Head
		data string
	}{
		{"plain", Head{ID: "e1", Source: "/geofence-detect", Type: GeofenceEntered, Subject: "van-1", Time: "2026-11-29T12:00:00.5Z", Tenant: "acme"}, `{"a":1}`},
		{"trace parent", Head{ID: "e2", Source: "/s", Type: AlertFired, Subject: "d", Time: "2026-11-29T12:00:00.000Z", Tenant: "t", TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, `[1,2]`},
		{"to escape", Head{ID: `q"uote`, Source: "<src>&", Type: "t\\x", Subject: "ünï\n", Time: "t", Tenant: "ten\u2028ant"}, `"s"`},
		{"empty", Head{}, `null`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, start, end := AppendStructured([]byte("prefix"), c.head, func(b []byte) []byte { return append(b, c.data...) })
			want, err := json.Marshal(reference{SpecVersion: "1.0", ID: c.head.ID, Source: c.head.Source, Type: c.head.Type,
				Subject: c.head.Subject, Time: c.head.Time, DataContentType: "application/json", Tenant: c.head.Tenant,
				TraceParent: c.head.TraceParent, Data: json.RawMessage(c.data)})
			if err != nil {
				t.Fatal(err)
			}
			if string(got[len("prefix"):]) != string(want) {
				t.Fatalf("got  %s\nwant %s", got[len("prefix"):], want)
			}
			if string(got[start:end]) != c.data {
				t.Fatalf("data span %q, want %q", got[start:end], c.data)
			}
		})
	}
}
