package events

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
)

// TestMarshalBatchIsWhatJSONMarshalGives: the batch body built event by
// event is byte for byte json.Marshal of the slice, and Decode reads it back
// as a batch with every attribute, extension and data of each event.
func TestMarshalBatchIsWhatJSONMarshalGives(t *testing.T) {
	ev := func(id, subject, data string, ext map[string]string) event.Event {
		e := cloudevents.NewEvent()
		e.SetID(id)
		e.SetSource("urn:geotrack:geofence")
		e.SetType(TypeGeofenceEntered)
		e.SetTime(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC))
		if subject != "" {
			e.SetSubject(subject)
		}
		for k, v := range ext {
			e.SetExtension(k, v)
		}
		e.SetDataContentType(cloudevents.ApplicationJSON)
		e.DataEncoded = []byte(data)
		return e
	}
	for _, tc := range []struct {
		name string
		es   []event.Event
	}{
		{name: "one event", es: []event.Event{ev("a", "dev-1", `{"device":"dev-1"}`, nil)}},
		{name: "several devices, extensions", es: []event.Event{
			ev("a", "dev-1", `{"device":"dev-1","lat":51.5,"lon":-0.1}`, map[string]string{ExtTenant: "acme", ExtSignature: "sig-a"}),
			ev("b", "dev-2", `{"device":"dev-2","name":"caf\u00e9 \"quoted\""}`, map[string]string{ExtTenant: "acme", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}),
			ev("c", "", `[{"device":"x"},{"device":"y"}]`, map[string]string{ExtTenant: "acme"}),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := marshalBatch(tc.es)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(tc.es)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("batch body\n%s\nwant (json.Marshal)\n%s", got, want)
			}
			envs, err := Decode(http.Header{"Content-Type": {MediaBatch}}, got)
			if err != nil || len(envs) != len(tc.es) {
				t.Fatalf("Decode = %d envelopes, %v; want %d", len(envs), err, len(tc.es))
			}
			for i, env := range envs {
				e := tc.es[i]
				if env.Mode != ModeBatch || env.ID != e.ID() || env.Type != e.Type() || env.Subject != e.Subject() ||
					!bytes.Equal(env.Data, e.Data()) {
					t.Errorf("event %d decoded as %+v, sent %v", i, env, e)
				}
			}
		})
	}
}
