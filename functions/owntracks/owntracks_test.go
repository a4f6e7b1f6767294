package owntracks_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/functions/owntracks"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	ht "github.com/geotrack/geotrack/internal/handlertest"
	"github.com/geotrack/geotrack/internal/intake"
	"github.com/geotrack/geotrack/internal/metrics"
)

// fakeAcceptor accepts every fix and records it; a fix at latitude 0 is
// rejected (as validation would reject one), and latitude -1 fails as a
// store that is down.
type fakeAcceptor struct {
	fixes   []fix.Fix
	sources []string
}

func (a *fakeAcceptor) AcceptFixes(_ context.Context, _ auth.Principal, fixes []fix.Fix, source string) (intake.Summary, error) {
	a.fixes = append(a.fixes, fixes...)
	a.sources = append(a.sources, source)
	switch fixes[0].Lat {
	case 0:
		return intake.Summary{Rejected: []intake.Rejection{{Index: 0, Error: "lat: null island"}, {Index: 1, Error: "ts: in the future"}}}, nil
	case -1:
		return intake.Summary{}, errors.New("save: redis: connection refused")
	}
	return intake.Summary{Accepted: len(fixes)}, nil
}

const location = `{"_type":"location","lat":51.5,"lon":-0.12,"tst":1796904000,"acc":8,"tid":"ph"}`

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// post sends body as the app does: X-Limit-U/D headers, Basic auth whose
// password is the token.
func post(token, body string) handler.Request {
	h := http.Header{"Content-Type": {"application/json"}, "X-Limit-U": {"jane"}, "X-Limit-D": {"phone"}}
	if token != "" {
		h.Set("Authorization", basic("jane", token))
	}
	return ht.Request(http.MethodPost, "", "", h, body)
}

func TestHandle(t *testing.T) {
	cases := []struct {
		ht.Case
		devices []string // devices of the fixes that reached the acceptor
	}{
		{ht.Row("location accepted, app gets an empty array", post(ht.ServiceToken, location), ht.Status(http.StatusOK), ht.Header("Content-Type", "application/json"), ht.Body("[]\n")), []string{"jane:phone"}},
		{ht.Row("bearer token and ?u=&d=", ht.Request(http.MethodPost, "u=bob&d=tab", ht.AdminToken, nil, location), ht.Status(http.StatusOK), ht.Body("[]\n")),
			[]string{"bob:tab"}},
		{ht.Row("array of messages", post(ht.ServiceToken, "["+location+`,{"_type":"waypoint","desc":"home"},`+strings.Replace(location, "51.5", "51.6", 1)+"]"), ht.Status(http.StatusOK), ht.Body("[]\n")),
			[]string{"jane:phone", "jane:phone"}},
		{ht.Row("non-location acknowledged, nothing stored", post(ht.ServiceToken, `{"_type":"transition","event":"enter"}`), ht.Status(http.StatusOK), ht.Body("[]\n")), nil},
		{ht.Row("empty body acknowledged", post(ht.ServiceToken, ""), ht.Status(http.StatusOK), ht.Body("[]\n")), nil},
		{ht.Row("every fix rejected", post(ht.ServiceToken, strings.Replace(location, "51.5", "0", 1)), ht.Status(http.StatusBadRequest), ht.JSON("error", "lat: null island; ts: in the future"), ht.JSON("rejected.1.index", 1)), []string{"jane:phone"}},
		{ht.Row("store down", post(ht.ServiceToken, strings.Replace(location, "51.5", "-1", 1)), ht.Status(http.StatusInternalServerError), ht.Error("connection refused")),
			[]string{"jane:phone"}},
		{ht.Row("lat not a number", post(ht.ServiceToken, `{"_type":"location","lat":"north","lon":1,"tst":1796904000}`), ht.Status(http.StatusBadRequest), ht.Error("lat")), nil},
		{ht.Row("not JSON", post(ht.ServiceToken, "lat=1"), ht.Status(http.StatusBadRequest), ht.Error("body")), nil},
		{ht.Row("GET refused", ht.Request(http.MethodGet, "", ht.ServiceToken, nil, ""), ht.Status(http.StatusMethodNotAllowed), ht.Error("method")), nil},
		{ht.Row("unparseable query", ht.Request(http.MethodPost, "u=%zz", ht.ServiceToken, nil, location), ht.Status(http.StatusBadRequest), ht.Error("query")), nil},
		{ht.Row("viewer may not report", post(ht.ViewerToken, location), ht.Status(http.StatusForbidden), ht.Error("viewer")), nil},
	}
	for _, c := range ht.AuthCases(func(token string) handler.Request { return post(token, location) }) {
		cases = append(cases, struct {
			ht.Case
			devices []string
		}{c, nil})
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			acc := &fakeAcceptor{}
			resp, err := owntracks.New(acc, ht.Verifier{}, nil).Handle(tc.Req)
			if err != nil {
				t.Fatal(err)
			}
			ht.Check(t, resp, tc.Want...)
			var got []string
			for _, f := range acc.fixes {
				got = append(got, f.Device)
			}
			if strings.Join(got, ",") != strings.Join(tc.devices, ",") {
				t.Errorf("acceptor got fixes of %v, want %v", got, tc.devices)
			}
			for _, s := range acc.sources {
				if s != "urn:geotrack:owntracks" {
					t.Errorf("source %q, want urn:geotrack:owntracks", s)
				}
			}
		})
	}
}

// TestHandleDecodesLocation checks the fix handed to the acceptor.
func TestHandleDecodesLocation(t *testing.T) {
	acc := &fakeAcceptor{}
	if _, err := owntracks.New(acc, ht.Verifier{}, nil).Handle(post(ht.ServiceToken, location)); err != nil {
		t.Fatal(err)
	}
	if len(acc.fixes) != 1 {
		t.Fatalf("got %d fixes, want 1", len(acc.fixes))
	}
	f := acc.fixes[0]
	if f.Lat != 51.5 || f.Lon != -0.12 || f.TS.Unix() != 1796904000 || f.Acc == nil || *f.Acc != 8 {
		t.Errorf("fix = %+v", f)
	}
}

// TestHandleCountsMessageTypes checks geotrack_owntracks_messages_total in
// the registry the function was given.
func TestHandleCountsMessageTypes(t *testing.T) {
	reg := metrics.NewRegistry()
	fn := owntracks.New(&fakeAcceptor{}, ht.Verifier{}, reg)
	for _, body := range []string{location, location, `{"_type":"waypoint"}`} {
		if _, err := fn.Handle(post(ht.ServiceToken, body)); err != nil {
			t.Fatal(err)
		}
	}
	var sb strings.Builder
	if _, err := reg.WriteTo(&sb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`geotrack_owntracks_messages_total{type="location"} 2`,
		`geotrack_owntracks_messages_total{type="waypoint"} 1`,
	} {
		if !strings.Contains(sb.String(), want+"\n") {
			t.Errorf("metrics lack %s:\n%s", want, sb.String())
		}
	}
}
