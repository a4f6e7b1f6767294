package events

import (
	"net/http"
	"strings"
	"testing"

	"github.com/geotrack/geotrack/internal/httpkit"
)

func h(kv ...string) http.Header {
	out := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

const structured = `{"specversion":"1.0","id":"e1","source":"urn:s","type":"io.geotrack.location.reported","subject":"d1","data":{"lat":1}}`

func TestDecodeModes(t *testing.T) {
	cases := []struct {
		name    string
		header  http.Header
		body    string
		mode    Mode
		n       int
		id      string
		subject string
		typ     string
	}{
		{"binary", h("Ce-Specversion", "1.0", "Ce-Id", "b1", "Ce-Source", "urn:s", "Ce-Type", "t", "Ce-Subject", "dev", "Content-Type", "application/json"),
			`{"lat":1}`, ModeBinary, 1, "b1", "dev", "t"},
		{"structured", h("Content-Type", "application/cloudevents+json"), structured, ModeStructured, 1, "e1", "d1", TypeLocationReported},
		{"structured with charset", h("Content-Type", "application/cloudevents+json; charset=utf-8"), structured, ModeStructured, 1, "e1", "d1", TypeLocationReported},
		{"structured as plain json", h("Content-Type", "application/json"), structured, ModeStructured, 1, "e1", "d1", TypeLocationReported},
		{"structured without content type", http.Header{}, structured, ModeStructured, 1, "e1", "d1", TypeLocationReported},
		{"structured as text/plain (connector)", h("Content-Type", "text/plain", "X-Topic", "x"), structured, ModeStructured, 1, "e1", "d1", TypeLocationReported},
		{"batch", h("Content-Type", "application/cloudevents-batch+json"), "[" + structured + "," + strings.Replace(structured, `"e1"`, `"e2"`, 1) + "]", ModeBatch, 2, "e1", "d1", TypeLocationReported},
		{"batch with charset", h("Content-Type", "application/cloudevents-batch+json; charset=UTF-8"), "[" + structured + "]", ModeBatch, 1, "e1", "d1", TypeLocationReported},
		{"batch as plain json", h("Content-Type", "application/json"), "[" + structured + "]", ModeBatch, 1, "e1", "d1", TypeLocationReported},
		{"plain fixes with topic", h("Content-Type", "application/json", "X-Topic", "io.geotrack.location.reported"), `[{"lat":1}]`, ModePlain, 1, "", "", TypeLocationReported},
		{"plain fixes", h("Content-Type", "application/json"), `{"lat":1}`, ModePlain, 1, "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			envs, err := Decode(tc.header, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(envs) != tc.n {
				t.Fatalf("%d envelopes, want %d", len(envs), tc.n)
			}
			e := envs[0]
			if e.Mode != tc.mode || e.ID != tc.id || e.Subject != tc.subject || e.Type != tc.typ {
				t.Fatalf("envelope %+v", e)
			}
			if !strings.Contains(string(e.Data), `"lat":1`) {
				t.Fatalf("data %s", e.Data)
			}
		})
	}
}

func TestTraceParentPropagates(t *testing.T) {
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	envs, err := Decode(h("Content-Type", "application/cloudevents+json"),
		[]byte(strings.Replace(structured, `"data"`, `"traceparent":"`+tp+`","data"`, 1)))
	if err != nil || envs[0].TraceParent != tp {
		t.Fatalf("extension: %+v %v", envs, err)
	}
	envs, err = Decode(h("Content-Type", "application/json", "traceparent", tp), []byte(`{"lat":1}`))
	if err != nil || envs[0].TraceParent != tp {
		t.Fatalf("header: %+v %v", envs, err)
	}
	e, err := New("urn:x", TypeLocationUpdated, "d", tp, []int{1})
	if err != nil || e.Extensions()["traceparent"] != tp {
		t.Fatalf("emitted: %v %v", e.Extensions(), err)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name   string
		header http.Header
		body   string
		status int
		field  string
	}{
		{"binary without id", h("Ce-Specversion", "1.0", "Ce-Source", "s", "Ce-Type", "t"), `{}`, 400, "ce-id"},
		{"binary without source", h("Ce-Specversion", "1.0", "Ce-Id", "i", "Ce-Type", "t"), `{}`, 400, "event"},
		{"structured malformed", h("Content-Type", "application/cloudevents+json"), `{"specversion":`, 400, "body"},
		{"structured missing type", h("Content-Type", "application/cloudevents+json"), `{"specversion":"1.0","id":"1","source":"s"}`, 400, "event"},
		{"empty batch", h("Content-Type", "application/cloudevents-batch+json"), `[]`, 400, "body"},
		{"batch with bad event", h("Content-Type", "application/cloudevents-batch+json"), `[` + structured + `,{"specversion":"1.0"}]`, 400, "[1].event"},
		{"bad content type", h("Content-Type", "a/b/c"), `{}`, 415, "content-type"},
		{"empty plain", h("Content-Type", "application/json"), ``, 400, "body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.header, []byte(tc.body))
			de, ok := err.(*httpkit.Error)
			if !ok {
				t.Fatalf("error %v (%T)", err, err)
			}
			if de.Status != tc.status || de.Field != tc.field {
				t.Fatalf("got %d %q (%v), want %d %q", de.Status, de.Field, de, tc.status, tc.field)
			}
		})
	}
}

// FuzzDecode: any header/body mix either decodes to envelopes with an id
// (unless plain) or fails with a 4xx *httpkit.Error — never a panic.
func FuzzDecode(f *testing.F) {
	f.Add("application/cloudevents+json", "", []byte(structured))
	f.Add("application/cloudevents-batch+json", "", []byte("["+structured+"]"))
	f.Add("application/json", "1.0", []byte(`{"lat":1}`))
	f.Add("application/json", "", []byte(`[{"specversion":"1.0"}]`))
	f.Add("text/plain", "", []byte(`{"specversion":1}`))
	f.Add("", "", []byte(``))
	f.Fuzz(func(t *testing.T, contentType, specVersion string, body []byte) {
		hd := http.Header{}
		hd.Set("Content-Type", contentType)
		if specVersion != "" {
			hd.Set("Ce-Specversion", specVersion)
			hd.Set("Ce-Id", "id")
			hd.Set("Ce-Source", "urn:s")
			hd.Set("Ce-Type", "t")
		}
		envs, err := Decode(hd, body)
		if err != nil {
			de, ok := err.(*httpkit.Error)
			if !ok || de.Status < 400 || de.Status > 499 || de.Field == "" {
				t.Fatalf("error %v is not a 4xx naming a field", err)
			}
			return
		}
		if len(envs) == 0 {
			t.Fatal("no envelopes and no error")
		}
		for _, e := range envs {
			if e.Mode != ModePlain && e.ID == "" {
				t.Fatalf("event without id: %+v", e)
			}
		}
	})
}
