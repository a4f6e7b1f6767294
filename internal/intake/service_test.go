package intake_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/httpkit"
	"github.com/geotrack/geotrack/internal/intake"
)

// recordingAcceptor accepts everything and keeps what it was given.
type recordingAcceptor struct {
	groups   []intake.Group
	rejected []intake.Rejection
	calls    int
}

func (a *recordingAcceptor) AcceptGroups(ctx context.Context, p auth.Principal, groups []intake.Group, rejected []intake.Rejection) (intake.Summary, error) {
	a.calls++
	a.groups, a.rejected = groups, rejected
	return intake.Summary{Accepted: intake.Count(groups), Rejected: rejected}, nil
}

func TestMayReport(t *testing.T) {
	for _, role := range []auth.Role{auth.RoleDevice, auth.RoleService, auth.RoleAdmin} {
		if err := intake.MayReport(auth.Principal{Tenant: "acme", Role: role}); err != nil {
			t.Errorf("role %s: %v", role, err)
		}
	}
	err := intake.MayReport(auth.Principal{Tenant: "acme", Role: auth.RoleViewer})
	if !errors.Is(err, auth.ErrForbidden) || httpkit.StatusOf(err) != http.StatusForbidden {
		t.Fatalf("viewer: %v", err)
	}
}

func TestServiceIngest(t *testing.T) {
	service := auth.Principal{Tenant: "acme", Role: auth.RoleService}
	otherTenant := ce("e1", fixJSON("d1", 1))
	otherTenant.Tenant = "globex"
	sameTenant := ce("e2", fixJSON("d1", 1))
	sameTenant.Tenant = "acme"
	cases := []struct {
		name        string
		envs        []events.Envelope
		device      string
		status      int // 0: accepted
		wantDevices []string
	}{
		{name: "event of the token's tenant", envs: []events.Envelope{sameTenant}, wantDevices: []string{"d1"}},
		{name: "event of another tenant", envs: []events.Envelope{otherTenant}, status: http.StatusForbidden},
		{name: "plain upload named by ?device=", envs: []events.Envelope{plain(fixJSON("", 1))}, device: "van-9", wantDevices: []string{"van-9"}},
		{name: "?device= does not override the fix's own device", envs: []events.Envelope{plain(fixJSON("d1", 1))}, device: "van-9", wantDevices: []string{"d1"}},
		{name: "?device= does not name an event's fixes", envs: []events.Envelope{ce("e3", fixJSON("", 1))}, device: "van-9", wantDevices: nil},
		{name: "request-level error", envs: []events.Envelope{{Mode: events.ModePlain, ContentType: "image/png", Data: []byte("x")}}, status: http.StatusUnsupportedMediaType},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			acc := &recordingAcceptor{}
			_, err := intake.NewService(parser(), acc).Ingest(context.Background(), service, tc.envs, tc.device)
			if tc.status != 0 {
				if s := httpkit.StatusOf(err); s != tc.status {
					t.Fatalf("error %v maps to %d, want %d", err, s, tc.status)
				}
				if acc.calls != 0 {
					t.Fatal("the pipeline was called for a refused request")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := devices(acc.groups); !slices.Equal(got, tc.wantDevices) {
				t.Fatalf("devices %v, want %v (rejected %v)", got, tc.wantDevices, acc.rejected)
			}
		})
	}
}

func TestServiceAcceptFixes(t *testing.T) {
	acc := &recordingAcceptor{}
	valid := fix.Fix{Device: "d1", TS: now.Add(-1e9), Lat: 1, Lon: 2}
	invalid := fix.Fix{Device: "d1", TS: now.Add(-1e9), Lat: 91, Lon: 2}
	sum, err := intake.NewService(parser(), acc).AcceptFixes(context.Background(),
		auth.Principal{Tenant: "acme", Role: auth.RoleDevice, Device: "d1"}, []fix.Fix{valid, invalid}, "urn:test")
	if err != nil {
		t.Fatal(err)
	}
	if len(acc.groups) != 1 || acc.groups[0].Source != "urn:test" || acc.groups[0].ID != "" || len(acc.groups[0].Fixes) != 1 {
		t.Fatalf("groups %+v", acc.groups)
	}
	if sum.Accepted != 1 || len(sum.Rejected) != 1 || sum.Rejected[0].Index != 1 {
		t.Fatalf("summary %+v", sum)
	}
}

// TestOnlyServicesCarryTheEdgeMarker: fix.AttrEdgeAlerts (an edge fired
// the fix's alerts, the cloud fires none) is kept from a service token (the
// edge's forwarder) and stripped from anyone else's fixes, other attributes
// kept: a device cannot silence its tenant's alerts by claiming an edge.
func TestOnlyServicesCarryTheEdgeMarker(t *testing.T) {
	body := `{"device":"d1","ts":"2026-11-25T11:00:00Z","lat":1,"lon":1,"attrs":{"edge_alerts":"site-1","alarm":"1"}}`
	only := `{"device":"d1","ts":"2026-11-25T11:00:01Z","lat":1,"lon":1,"attrs":{"edge_alerts":"site-1"}}`
	cases := []struct {
		role     auth.Role
		want     string
		wantKept int // attributes left on the first fix
	}{
		{auth.RoleService, "site-1", 2},
		{auth.RoleDevice, "", 1},
		{auth.RoleAdmin, "", 1},
	}
	for _, c := range cases {
		t.Run(string(c.role), func(t *testing.T) {
			p := auth.Principal{Tenant: "acme", Role: c.role, Device: "d1"}
			acc := &recordingAcceptor{}
			svc := intake.NewService(parser(), acc)
			if _, err := svc.Ingest(context.Background(), p, []events.Envelope{plain("[" + body + "," + only + "]")}, ""); err != nil {
				t.Fatal(err)
			}
			if len(acc.groups) != 1 || len(acc.groups[0].Fixes) != 2 {
				t.Fatalf("groups %+v", acc.groups)
			}
			fs := acc.groups[0].Fixes
			if fs[0].EdgeEvaluated() != c.want || len(fs[0].Attrs) != c.wantKept || fs[1].EdgeEvaluated() != c.want {
				t.Errorf("ingest: attrs %v and %v", fs[0].Attrs, fs[1].Attrs)
			}
			if c.role != auth.RoleService && fs[1].Attrs != nil {
				t.Errorf("ingest: a fix left with empty attrs %v", fs[1].Attrs)
			}
			f := fix.Fix{Device: "d1", TS: fs[0].TS, Lat: 1, Lon: 1, Attrs: map[string]string{fix.AttrEdgeAlerts: "site-1"}}
			if _, err := svc.AcceptFixes(context.Background(), p, []fix.Fix{f}, "owntracks"); err != nil {
				t.Fatal(err)
			}
			if got := acc.groups[0].Fixes[0].EdgeEvaluated(); got != c.want {
				t.Errorf("protocol fix: marker %q, want %q", got, c.want)
			}
		})
	}
}
