package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestDashboardEdgeSite: with DASHBOARD_SITE=edge (as edge-k3s deploys it)
// the page offers the views an edge node's functions serve — fleet and
// device, the track without trips — and a link to a cloud view lands on
// the fleet; nothing it does fails in the console.
func TestDashboardEdgeSite(t *testing.T) {
	rs := testenv.StartRedis(t)
	base, link := dashboardDev(t, rs.URL, 2, "DASHBOARD_SITE=edge")
	svc := token(t, "demo", auth.RoleService, "")
	now := time.Now().UTC().Truncate(time.Second)
	body := []byte{'['}
	for i := range 30 {
		if i > 0 {
			body = append(body, ',')
		}
		body = (fix.Fix{Device: "edge-van", TS: now.Add(time.Duration(i-40) * time.Second), Lat: 51.5 + float64(i)*1e-4, Lon: -0.12}).AppendJSON(body)
	}
	body = append(body, ']')
	if r := call(t, http.MethodPost, base+"/function/ingest", svc, hdr("Content-Type", "application/json"), body); r.Status != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", r.Status, r.Body)
	}

	errs := &browserErrors{}
	ctx := startBrowser(t, errs)
	str := func(js string) string {
		t.Helper()
		return browserString(t, ctx, js)
	}
	waitFor := func(what, js string) {
		t.Helper()
		testenv.Eventually(t, what, 15*time.Second, func() bool {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+js+")"))
			return err == nil && ok
		})
	}
	navigate := func(url string) {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(tctx, chromedp.Navigate(url)); err != nil {
			t.Fatalf("open %s: %v", url, err)
		}
	}

	navigate(link)
	waitFor("logged in", `document.getElementById("role")?.textContent === "viewer"`)
	if got := str(`[...document.querySelectorAll("#nav a")].map(a => a.dataset.view).join(",")`); got != "fleet,device" {
		t.Fatalf("edge nav offers %q, want fleet,device", got)
	}
	navigate(base + "/function/dashboard/#/geofences")
	waitFor("a cloud view lands on the fleet", `document.body.dataset.view === "fleet" && document.getElementById("fleet-list")`)
	navigate(base + "/function/dashboard/#/device/edge-van")
	waitFor("the track shown without trips", `+document.body.dataset.trackPoints === 30 && document.getElementById("trips")?.textContent.includes("computed in the cloud")`)
	if e := errs.list(); len(e) > 0 {
		t.Fatalf("browser console errors:\n%s", strings.Join(e, "\n"))
	}
}
