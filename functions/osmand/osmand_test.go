package osmand_test

import (
	"context"
	"encoding/base64"
	"errors"
	"math"
	"net/http"
	"testing"
	"time"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/osmand"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	ht "github.com/geotrack/geotrack/internal/handlertest"
	"github.com/geotrack/geotrack/internal/intake"
)

// fakeAcceptor accepts every fix and records it; device "invalid" is
// rejected (as validation would), device "broken" fails as a store that is
// down.
type fakeAcceptor struct {
	fixes   []fix.Fix
	sources []string
}

func (a *fakeAcceptor) AcceptFixes(_ context.Context, _ auth.Principal, fixes []fix.Fix, source string) (intake.Summary, error) {
	a.fixes = append(a.fixes, fixes...)
	a.sources = append(a.sources, source)
	switch fixes[0].Device {
	case "invalid":
		return intake.Summary{Rejected: []intake.Rejection{{Index: 0, Error: "ts: more than 24h in the future"}}}, nil
	case "broken":
		return intake.Summary{}, errors.New("save: redis: connection refused")
	}
	return intake.Summary{Accepted: len(fixes)}, nil
}

const query = "id=d1&lat=51.5&lon=-0.12&timestamp=1796904000&speed=10&batt=80&custom=x"

func get(q, token string) handler.Request {
	if token != "" {
		q += "&token=" + token
	}
	return ht.Request(http.MethodGet, q, "", nil, "")
}

func basic(token string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("d1:"+token))}}
}

func TestHandle(t *testing.T) {
	ok := []ht.Matcher{ht.Status(http.StatusOK), ht.Body("")}
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	traccarJSON := `{"device_id":"d1","location":{"timestamp":"2026-11-29T12:00:00Z","coords":{"latitude":51.5,"longitude":-0.12,"speed":5.14}}}`
	cases := []struct {
		ht.Case
		device string // device of the fix that reached the acceptor ("": none)
	}{
		{ht.Row("query with ?token=", get(query, ht.ServiceToken), ok...), "d1"},
		{ht.Row("query with Basic auth", ht.Request(http.MethodGet, query, "", basic(ht.DeviceToken), ""), ok...), "d1"},
		{ht.Row("form POST", ht.Request(http.MethodPost, "", ht.ServiceToken, form, query), ok...), "d1"},
		{ht.Row("form POST with the token in the form", ht.Request(http.MethodPost, "", "", form, query+"&token="+ht.ServiceToken), ok...), "d1"},
		{ht.Row("Traccar Client JSON", ht.Request(http.MethodPost, "", ht.ServiceToken, http.Header{"Content-Type": {"application/json"}}, traccarJSON), ok...), "d1"},
		{ht.Row("JSON recognised without a content type", ht.Request(http.MethodPost, "", ht.ServiceToken, nil, traccarJSON), ok...), "d1"},
		{ht.Row("device token for another device", get("id=d2&lat=1&lon=1", ht.DeviceToken), ok...), "d2"}, // which device a token may report is intake's check
		{ht.Row("rejected fix", get("id=invalid&lat=1&lon=1", ht.ServiceToken), ht.Status(http.StatusBadRequest), ht.Error("ts: more than 24h in the future")), "invalid"},
		{ht.Row("store down", get("id=broken&lat=1&lon=1", ht.ServiceToken), ht.Status(http.StatusInternalServerError), ht.Error("connection refused")), "broken"},
		{ht.Row("id missing", get("lat=1&lon=1", ht.ServiceToken), ht.Status(http.StatusBadRequest), ht.Error("id")), ""},
		{ht.Row("lat not a number", get("id=d1&lat=north&lon=1", ht.ServiceToken), ht.Status(http.StatusBadRequest), ht.Error("lat")), ""},
		{ht.Row("timestamp unreadable", get("id=d1&lat=1&lon=1&timestamp=noon", ht.ServiceToken), ht.Status(http.StatusBadRequest), ht.Error("timestamp")), ""},
		{ht.Row("JSON without coordinates", ht.Request(http.MethodPost, "", ht.ServiceToken, http.Header{"Content-Type": {"application/json"}}, `{"device_id":"d1","location":{}}`), ht.Status(http.StatusBadRequest), ht.Error("location")), ""},
		{ht.Row("form body not a form", ht.Request(http.MethodPost, "", ht.ServiceToken, form, "id=%zz"), ht.Status(http.StatusBadRequest), ht.Error("body")), ""},
		{ht.Row("unparseable query", ht.Request(http.MethodGet, "id=%zz", ht.ServiceToken, nil, ""), ht.Status(http.StatusBadRequest), ht.Error("query")), ""},
		{ht.Row("PUT refused", ht.Request(http.MethodPut, query, ht.ServiceToken, nil, ""), ht.Status(http.StatusMethodNotAllowed), ht.Error("method")), ""},
		{ht.Row("viewer may not report", get(query, ht.ViewerToken), ht.Status(http.StatusForbidden), ht.Error("viewer")), ""},
	}
	for _, c := range ht.AuthCases(func(token string) handler.Request { return get(query, token) }) {
		cases = append(cases, struct {
			ht.Case
			device string
		}{c, ""})
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			acc := &fakeAcceptor{}
			resp, err := osmand.New(acc, ht.Verifier{}).Handle(tc.Req)
			if err != nil {
				t.Fatal(err)
			}
			ht.Check(t, resp, tc.Want...)
			switch {
			case tc.device == "" && len(acc.fixes) > 0:
				t.Errorf("refused request reached the acceptor: %+v", acc.fixes)
			case tc.device != "" && (len(acc.fixes) != 1 || acc.fixes[0].Device != tc.device):
				t.Errorf("acceptor got %+v, want one fix of %s", acc.fixes, tc.device)
			}
			for _, s := range acc.sources {
				if s != "urn:geotrack:osmand" {
					t.Errorf("source %q, want urn:geotrack:osmand", s)
				}
			}
		})
	}
}

// TestHandleDecodesQuery checks the fix handed to the acceptor: knots to
// m/s, extra parameters as attrs, the token not among them, and a fix
// without timestamp stamped on arrival.
func TestHandleDecodesQuery(t *testing.T) {
	acc := &fakeAcceptor{}
	fn := osmand.New(acc, ht.Verifier{})
	before := time.Now()
	for _, q := range []string{query, "id=d1&lat=1&lon=2"} {
		if _, err := fn.Handle(get(q, ht.ServiceToken)); err != nil {
			t.Fatal(err)
		}
	}
	after := time.Now()
	if len(acc.fixes) != 2 {
		t.Fatalf("got %d fixes, want 2", len(acc.fixes))
	}
	f := acc.fixes[0]
	if f.Lat != 51.5 || f.Lon != -0.12 || f.TS.Unix() != 1796904000 {
		t.Errorf("fix = %+v", f)
	}
	if f.Speed == nil || math.Abs(*f.Speed-10*1852.0/3600) > 1e-9 {
		t.Errorf("speed = %v, want 10 knots in m/s", f.Speed)
	}
	if f.Attrs["custom"] != "x" {
		t.Errorf("attrs = %v, want custom=x", f.Attrs)
	}
	if _, leaked := f.Attrs["token"]; leaked {
		t.Errorf("the token was kept as an attr: %v", f.Attrs)
	}
	if ts := acc.fixes[1].TS; ts.Before(before.Truncate(time.Millisecond)) || ts.After(after) {
		t.Errorf("untimed fix stamped %v, want between %v and %v", ts, before, after)
	}
}
