package ingest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/ingest"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	ht "github.com/geotrack/geotrack/internal/handlertest"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/intake"
)

// ingestCall is one call the fake ingester received.
type ingestCall struct {
	p      auth.Principal
	envs   []events.Envelope
	device string
}

// fakeIngester accepts every envelope, except for the ?device= values that
// stand for the service's other answers: "rejected" (every fix invalid),
// "broken" (the store is down), "too-many" (a request-level 413).
type fakeIngester struct {
	calls []ingestCall
}

func (f *fakeIngester) Ingest(_ context.Context, p auth.Principal, envs []events.Envelope, device string) (intake.Summary, error) {
	f.calls = append(f.calls, ingestCall{p, envs, device})
	switch device {
	case "rejected":
		return intake.Summary{Rejected: []intake.Rejection{{Index: 0, Error: "lat: must be within ±90"}}}, nil
	case "broken":
		return intake.Summary{}, errors.New("save: redis: connection refused")
	case "too-many":
		return intake.Summary{}, &httpkit.Error{Status: http.StatusRequestEntityTooLarge, Field: "body", Msg: "more than 10000 fixes"}
	}
	return intake.Summary{Accepted: len(envs), Duplicates: 1}, nil
}

const fixJSON = `{"device":"d1","ts":"2026-11-29T12:00:00Z","lat":51.5,"lon":-0.12}`

func binary(token string) handler.Request {
	return ht.Request(http.MethodPost, "", token, http.Header{
		"Content-Type": {"application/json"}, "Ce-Specversion": {"1.0"}, "Ce-Id": {"e1"},
		"Ce-Source": {"urn:test"}, "Ce-Type": {events.TypeLocationReported}, "Ce-Subject": {"d1"},
	}, fixJSON)
}

func TestHandle(t *testing.T) {
	structured := `{"specversion":"1.0","id":"e2","source":"urn:test","type":"` + events.TypeLocationReported + `","subject":"d1","datacontenttype":"application/json","data":` + fixJSON + `}`
	batch := `[` + structured + `,{"specversion":"1.0","id":"e3","source":"urn:test","type":"` + events.TypeLocationReported + `","data":` + fixJSON + `}]`
	post := func(query, contentType, body string) handler.Request {
		return ht.Request(http.MethodPost, query, ht.ServiceToken, http.Header{"Content-Type": {contentType}}, body)
	}
	cases := []struct {
		ht.Case
		// what must reach the ingester (ids nil: nothing)
		mode   events.Mode
		ids    []string
		device string
	}{
		{ht.Row("binary CloudEvent", binary(ht.ServiceToken), ht.Status(http.StatusAccepted), ht.Header("Content-Type", "application/json"),
			ht.JSON("accepted", 1), ht.JSON("duplicates", 1), ht.JSON("rejected", nil)), events.ModeBinary, []string{"e1"}, ""},
		{ht.Row("structured CloudEvent", post("", events.MediaStructured, structured), ht.Status(http.StatusAccepted), ht.JSON("accepted", 1)),
			events.ModeStructured, []string{"e2"}, ""},
		{ht.Row("batch of CloudEvents", post("", events.MediaBatch, batch), ht.Status(http.StatusAccepted), ht.JSON("accepted", 2)),
			events.ModeBatch, []string{"e2", "e3"}, ""},
		{ht.Row("plain fix with ?device=", post("device=d1", "application/json", fixJSON), ht.Status(http.StatusAccepted), ht.JSON("accepted", 1)),
			events.ModePlain, []string{""}, "d1"},
		{ht.Row("PUT works as POST", ht.Request(http.MethodPut, "", ht.DeviceToken, http.Header{"Content-Type": {"application/json"}}, fixJSON), ht.Status(http.StatusAccepted)),
			events.ModePlain, []string{""}, ""},
		{ht.Row("every fix rejected", post("device=rejected", "application/json", fixJSON), ht.Status(http.StatusBadRequest), ht.JSON("accepted", 0), ht.JSON("rejected.0.error", "lat: must be within ±90")), events.ModePlain, []string{""}, "rejected"},
		{ht.Row("store down is a retryable 500", post("device=broken", "application/json", fixJSON), ht.Status(http.StatusInternalServerError), ht.Error("connection refused")),
			events.ModePlain, []string{""}, "broken"},
		{ht.Row("service's own status kept", post("device=too-many", "application/json", fixJSON), ht.Status(http.StatusRequestEntityTooLarge), ht.Error("body", "10000")),
			events.ModePlain, []string{""}, "too-many"},
		{ht.Row("empty body", post("", "application/json", "  "), ht.Status(http.StatusBadRequest), ht.Error("body")), "", nil, ""},
		{ht.Row("unparseable content type", post("", "application/json; ===", fixJSON), ht.Status(http.StatusUnsupportedMediaType), ht.Error("content-type")), "", nil, ""},
		{ht.Row("structured event without id", post("", events.MediaStructured, `{"specversion":"1.0","source":"urn:test","type":"x"}`), ht.Status(http.StatusBadRequest), ht.Error("id")), "", nil, ""},
		{ht.Row("GET refused", ht.Request(http.MethodGet, "", ht.ServiceToken, nil, ""), ht.Status(http.StatusMethodNotAllowed), ht.Error("method")), "", nil, ""},
		{ht.Row("viewer may not report", binary(ht.ViewerToken), ht.Status(http.StatusForbidden), ht.Error("viewer")), "", nil, ""},
	}
	for _, c := range ht.AuthCases(binary) {
		cases = append(cases, struct {
			ht.Case
			mode   events.Mode
			ids    []string
			device string
		}{c, "", nil, ""})
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			in := &fakeIngester{}
			resp, err := ingest.New(in, ht.Verifier{}).Handle(tc.Req)
			if err != nil {
				t.Fatal(err)
			}
			ht.Check(t, resp, tc.Want...)
			if tc.ids == nil {
				if len(in.calls) != 0 {
					t.Fatalf("refused request reached the ingester: %+v", in.calls)
				}
				return
			}
			if len(in.calls) != 1 {
				t.Fatalf("ingester called %d times, want 1", len(in.calls))
			}
			call := in.calls[0]
			if call.p.Tenant != ht.Tenant || call.device != tc.device {
				t.Errorf("ingester got tenant %q device %q, want %q %q", call.p.Tenant, call.device, ht.Tenant, tc.device)
			}
			if len(call.envs) != len(tc.ids) {
				t.Fatalf("ingester got %d envelopes, want %d", len(call.envs), len(tc.ids))
			}
			for i, env := range call.envs {
				if env.Mode != tc.mode || env.ID != tc.ids[i] {
					t.Errorf("envelope %d: mode %v id %q, want %v %q", i, env.Mode, env.ID, tc.mode, tc.ids[i])
				}
			}
		})
	}
}
