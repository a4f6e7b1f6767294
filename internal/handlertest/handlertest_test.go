package handlertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	handler "github.com/openfaas/templates-sdk/go-http"

	"github.com/geotrack/geotrack/internal/auth"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Logf(string, ...any)       {}
func (r *recorder) Failed() bool              { return len(r.failures) > 0 }
func (r *recorder) Errorf(f string, a ...any) { r.failures = append(r.failures, fmt.Sprintf(f, a...)) }
func (r *recorder) Fatalf(f string, a ...any) { r.Errorf(f, a...) }

// TestMatchers checks that each matcher passes on a matching response and
// fails on one that differs: a matcher that cannot fail asserts nothing.
func TestMatchers(t *testing.T) {
	resp := handler.Response{StatusCode: 200, Header: http.Header{"X-Next-Cursor": {"c2"}},
		Body: []byte(`{"device":"d1","points":[{"lat":51.5},{"lat":51.6}],"next":"c2","error":"lat: out of range"}`)}
	cases := []struct {
		name     string
		m        Matcher
		wantFail bool
	}{
		{"status", Status(200), false},
		{"status differs", Status(404), true},
		{"header", Header("X-Next-Cursor", "c2"), false},
		{"header differs", Header("X-Next-Cursor", "c3"), true},
		{"header absent", NoHeader("Link"), false},
		{"header present", NoHeader("X-Next-Cursor"), true},
		{"body contains", BodyContains(`"next":"c2"`), false},
		{"body lacks", BodyContains("gpx"), true},
		{"body exact differs", Body("{}"), true},
		{"JSON string", JSON("device", "d1"), false},
		{"JSON nested number", JSON("points.1.lat", 51.6), false},
		{"JSON number differs", JSON("points.1.lat", 51), true},
		{"JSON missing key", JSON("points.0.lon", 0), true},
		{"JSON index out of range", JSON("points.2.lat", 51.5), true},
		{"JSON length", JSONLen("points", 2), false},
		{"JSON length differs", JSONLen("points", 3), true},
		{"error names field", Error("lat"), false},
		{"error lacks field", Error("lon"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			tc.m(r, resp)
			if r.Failed() != tc.wantFail {
				t.Errorf("failed = %v (%v), want %v", r.Failed(), r.failures, tc.wantFail)
			}
		})
	}
}

func TestVerifier(t *testing.T) {
	for token, want := range map[string]error{
		"": auth.ErrUnauthenticated, "forged": auth.ErrUnauthenticated, UndecidableToken: ErrVerifierDown, ViewerToken: nil,
	} {
		p, err := Verifier{}.Verify(context.Background(), token)
		if (want == nil) != (err == nil) || (want != nil && !errors.Is(err, want)) {
			t.Errorf("Verify(%q) = %v, want %v", token, err, want)
		}
		if want == nil && (p.Tenant != Tenant || p.Role != auth.RoleViewer) {
			t.Errorf("Verify(%q) = %+v", token, p)
		}
	}
}
