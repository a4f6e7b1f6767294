package forward

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/geotrack/geotrack/internal/alert"
)

// fakeUplink is the edge's queue of alert records, in memory.
type fakeUplink struct {
	mu      sync.Mutex
	pending map[string][]alert.Uplinked // tenant -> records
}

func (u *fakeUplink) UplinkTenants(context.Context) ([]string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	var ts []string
	for t := range u.pending {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts, nil
}

func (u *fakeUplink) PeekUplink(_ context.Context, tenant string, limit int) ([]alert.Uplinked, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.pending[tenant]
	return slices.Clone(p[:min(limit, len(p))]), nil
}

func (u *fakeUplink) AckUplink(_ context.Context, tenant string, sent []alert.Uplinked) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.pending[tenant] = slices.DeleteFunc(u.pending[tenant], func(x alert.Uplinked) bool {
		return slices.ContainsFunc(sent, func(s alert.Uplinked) bool { return s.Record.ID == x.Record.ID && s.Mark == x.Mark })
	})
	return nil
}

func (u *fakeUplink) left() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, p := range u.pending {
		n += len(p)
	}
	return n
}

// alertCloud is the cloud's alerts function: it refuses reports holding
// al_bad, answers status while it is set, and keeps what it took.
type alertCloud struct {
	mu      sync.Mutex
	status  int
	took    []string // tenant/id
	queries []string
	auth    []string
	sizes   []int
}

func (c *alertCloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queries = append(c.queries, r.URL.RawQuery)
	c.auth = append(c.auth, r.Header.Get("Authorization")+" "+r.Header.Get("Content-Type"))
	if c.status != 0 {
		w.WriteHeader(c.status)
		return
	}
	body, _ := io.ReadAll(r.Body)
	c.sizes = append(c.sizes, len(body))
	var rep alert.EdgeReport
	if json.Unmarshal(body, &rep) != nil || strings.Contains(string(body), "al_bad") {
		http.Error(w, `{"error":"alerts[0].event.tenant: not the token's tenant"}`, http.StatusBadRequest)
		return
	}
	for _, rec := range rep.Alerts {
		c.took = append(c.took, rec.Device+"/"+rec.ID+"/"+rec.State)
	}
	w.WriteHeader(http.StatusOK)
}

// TestUplinkAlerts: after the fixes, the forwarder sends the edge's alert
// records to CLOUD_ALERTS_URL with the node named and the service token,
// acks them after a 2xx, keeps them while the cloud is down (a retryable
// error, so the run backs off), and drops only a record refused on its own.
func TestUplinkAlerts(t *testing.T) {
	ctx := context.Background()
	e := startEdge(t)
	cloudFixes := newCloud(t, nil)
	ac := &alertCloud{status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(ac)
	t.Cleanup(srv.Close)
	rec := func(id, device, state string) alert.Uplinked {
		return alert.Uplinked{Record: alert.Record{ID: id, Device: device, State: state}, Mark: 1}
	}
	// Two records of 300 KiB each (their causing events): one report each.
	big := func(id, device string) alert.Uplinked {
		u := rec(id, device, alert.StateDelivered)
		u.Record.Event = json.RawMessage(`{"data":"` + strings.Repeat("x", 300<<10) + `"}`)
		return u
	}
	up := &fakeUplink{pending: map[string][]alert.Uplinked{
		"acme":   {rec("al_1", "van-1", alert.StatePending), rec("al_bad", "van-2", alert.StateDead), rec("al_2", "van-3", alert.StateDelivered)},
		"globex": {rec("al_3", "g-1", alert.StateDelivered), big("al_4", "big-1"), big("al_5", "big-2")},
	}}
	f := e.forwarder(t, cloudFixes, func(c *Config) { c.AlertsURL, c.Alerts = srv.URL+"/function/alerts", up })

	res, err := f.RunOnce(ctx)
	var retryable *RetryableError
	if !errors.As(err, &retryable) || retryable.Status != http.StatusServiceUnavailable || res.Alerts != 0 || up.left() != 6 {
		t.Fatalf("cloud down: %+v %v, %d left; want a retryable error and everything kept", res, err, up.left())
	}

	ac.mu.Lock()
	ac.status = 0
	ac.mu.Unlock()
	res, err = f.RunOnce(ctx)
	if err != nil || res.Alerts != 5 || up.left() != 0 {
		t.Fatalf("cloud up: %+v %v, %d left", res, err, up.left())
	}
	ac.mu.Lock()
	defer ac.mu.Unlock()
	for i, size := range ac.sizes {
		if size > alertReportBytes {
			t.Errorf("report %d: %d bytes, over %d", i, size, alertReportBytes)
		}
	}
	want := []string{"van-1/al_1/pending", "van-3/al_2/delivered", "g-1/al_3/delivered", "big-1/al_4/delivered", "big-2/al_5/delivered"}
	if !slices.Equal(ac.took, want) {
		t.Errorf("cloud took %v, want %v (al_bad dropped on its own)", ac.took, want)
	}
	for i, q := range ac.queries {
		if q != "node=edge-1" || ac.auth[i] != "Bearer "+cloudFixes.token+" application/json" {
			t.Errorf("request %d: query %q, headers %q", i, q, ac.auth[i])
		}
	}
}
