package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/testenv"
)

// dashboardArtifacts is where TestDashboardInBrowser saves a screenshot of
// each view (git-ignored; README names it). With
// GEOTRACK_UPDATE_SCREENSHOTS=1 the same PNGs are also written to
// docs/screenshots, the committed ones README shows.
const (
	dashboardArtifacts   = "artifacts/dashboard"
	dashboardScreenshots = "../docs/screenshots"
)

// dashboardChromium finds Debian's chromium (or $CHROMIUM). A missing
// browser fails the test: it is part of make test, never skipped.
func dashboardChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run `make tools` (scripts/install-deps.sh installs Debian's chromium), or set CHROMIUM to a Chromium binary")
	return ""
}

// dashboardDev runs `geotrack dev` with a simulated fleet of tenant demo
// and returns its base URL and the dashboard login link it printed. env
// adds variables (NAME=value) to dev's environment.
func dashboardDev(t *testing.T, redisURL string, devices int, env ...string) (base, link string) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := exec.Command(binary, "dev", "--addr", addr, "--simulate", fmt.Sprint(devices), "--rate", "1")
	cmd.Dir = t.TempDir()
	var logs bytes.Buffer
	var mu sync.Mutex
	linkCh := make(chan string, 1)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &lockedWriter{mu: &mu, w: &logs}
	cmd.Env = append(os.Environ(), "REDIS_URL="+redisURL, "GEOTRACK_JWT_SECRET="+testSecret, "SECRETS_DIR="+t.TempDir(),
		"LOG_LEVEL=warn", "EVENT_RELAY_INTERVAL=100ms", "DELIVERY_INTERVAL=100ms",
		"TILE_URL=") // no base map: the test runs offline, as an edge node would
	cmd.Env = append(cmd.Env, env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			logs.WriteString(line + "\n")
			mu.Unlock()
			if m := regexp.MustCompile(`(http://\S+/function/dashboard/#token=\S+)`).FindStringSubmatch(line); m != nil {
				select {
				case linkCh <- m[1]:
				default:
				}
			}
		}
	}()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("geotrack dev:\n%s", tail(logs.String(), 3000))
			mu.Unlock()
		}
	})
	base = "http://" + addr
	testenv.WaitHTTP(t, base+"/_/ready", 20*time.Second)
	select {
	case link = <-linkCh:
	case <-time.After(20 * time.Second):
		t.Fatal("geotrack dev printed no dashboard link (…/function/dashboard/#token=…)")
	}
	return base, link
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// browserErrors collects what the page logged as an error: console.error,
// uncaught exceptions and the browser's own log (failed loads, CSP).
type browserErrors struct {
	mu   sync.Mutex
	errs []string
}

func (b *browserErrors) add(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, s)
}

func (b *browserErrors) list() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

func startBrowser(t *testing.T, errs *browserErrors) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(dashboardChromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf), chromedp.WithListener(errs.listen))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	enable := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, cdplog.Enable, cdp.Empty{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, runtime.Enable, cdp.Empty{})
		return err
	})
	if err := chromedp.Do(ctx, enable); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// listen runs in chromedp's read loop: it only records.
func (b *browserErrors) listen(ev any) {
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			b.add("console." + string(e.Type) + ": " + strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.add(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *cdplog.EventEntryAdded:
		if e.Entry.Level == cdplog.EntryLevelError {
			b.add("browser log: " + e.Entry.Text + " " + e.Entry.URL)
		}
	}
}

// TestDashboardInBrowser drives the dashboard in headless Chromium against
// `geotrack dev` (real Redis, every function, a simulated fleet): the
// login link dev prints, the fleet moving, a track played back, a fence
// drawn and read back through the API, a webhook rule whose alert is
// listed after a scripted entry and replayed from the dead letters, a
// preference with a privacy zone drawn on the map, and a phone-sized
// window. Any console error fails it. Screenshots of each view go to
// e2e/artifacts/dashboard.
func TestDashboardInBrowser(t *testing.T) {
	rs := testenv.StartRedis(t)
	base, link := dashboardDev(t, rs.URL, 25)
	api := base + "/function/"
	admin := token(t, "demo", auth.RoleAdmin, "")
	// A day of van-1 (parked, driving, parked …) in the last hours, so the
	// device view has a history with trips and stops to show.
	sim := fleet.Simulate(17, "van-1", 2*time.Second, true, []fleet.Segment{
		{Park: 8 * time.Minute}, {DriveM: 3000, Speed: 14}, {Park: 7 * time.Minute}, {DriveM: 2200, Speed: 11}, {Park: 6 * time.Minute},
	})
	shift := time.Now().Add(-2 * time.Hour).Truncate(time.Second).Sub(sim.Fixes[0].TS)
	svc := token(t, "demo", auth.RoleService, "")
	for i := 0; i < len(sim.Fixes); i += 500 {
		body := []byte{'['}
		for j, f := range sim.Fixes[i:min(i+500, len(sim.Fixes))] {
			f.TS = f.TS.Add(shift)
			alt := 30 + 10*math.Sin(float64(i+j)/50)
			f.Alt = &alt
			if j > 0 {
				body = append(body, ',')
			}
			body = f.AppendJSON(body)
		}
		body = append(body, ']')
		if r := call(t, http.MethodPost, api+"ingest", svc, hdr("Content-Type", "application/json"), body); r.Status != http.StatusAccepted {
			t.Fatalf("ingest van-1: %d %s", r.Status, r.Body)
		}
	}
	errs := &browserErrors{}
	ctx := startBrowser(t, errs)
	if err := os.MkdirAll(dashboardArtifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	// artifact saves a screenshot among the test's artifacts; shot also
	// refreshes README's copy with GEOTRACK_UPDATE_SCREENSHOTS=1.
	artifact := func(name string) []byte {
		t.Helper()
		time.Sleep(300 * time.Millisecond) // the map's last redraw
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dashboardArtifacts, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		return png
	}
	shot := func(name string) {
		t.Helper()
		png := artifact(name)
		if os.Getenv("GEOTRACK_UPDATE_SCREENSHOTS") == "1" {
			if err := os.WriteFile(filepath.Join(dashboardScreenshots, name+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		browserDo(t, ctx, errs, 30*time.Second, what, actions...)
	}
	eval := func(js string, out any) {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		raw, err := chromedp.Run(tctx, chromedp.Evaluate[json.RawMessage](js))
		if err == nil {
			err = json.Unmarshal(raw, out)
		}
		if err != nil {
			t.Fatalf("evaluate %s: %v (browser errors so far: %v)", clipJS(js), err, errs.list())
		}
	}
	// waitJS polls a JavaScript condition, as a user would wait for the page.
	waitJS := func(what, js string, timeout time.Duration) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			var ok bool
			eval("!!("+js+")", &ok)
			if ok {
				return
			}
			if time.Now().After(deadline) {
				var panel string
				eval(`document.getElementById("panel").innerText + " | status: " + document.getElementById("status").innerText`, &panel)
				t.Fatalf("%s: not within %s (panel: %s; browser errors: %v)", what, timeout, clipJS(panel), errs.list())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// setValue replaces a field's value as a paste would, with its input event.
	setValue := func(id, value string) {
		t.Helper()
		var ok bool
		eval(fmt.Sprintf(`(() => { const el = document.getElementById(%q); el.value = %q; el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`, id, value), &ok)
	}
	// unlabelled lists the form controls no label names.
	checkLabels := func(view string) {
		t.Helper()
		var unlabelled []string
		eval(`[...document.querySelectorAll("#panel input, #panel select, #panel textarea")].filter(el =>
			!el.labels?.length && !el.getAttribute("aria-label") && !el.closest("label")).map(el => el.id || el.outerHTML)`, &unlabelled)
		if len(unlabelled) > 0 {
			t.Errorf("%s: form controls without a label: %v", view, unlabelled)
		}
		// WCAG 2.1 contrast (1.4.3): every visible text outside the map
		// against its nearest opaque background, 4.5:1 (3:1 for large text);
		// disabled controls are exempt.
		var lowContrast []string
		eval(`(() => {
			const rgba = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null; const [r, g, b, a = 1] = m[1].split(",").map(Number); return { r, g, b, a }; };
			const lum = ({ r, g, b }) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
			const background = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor); if (c && c.a > 0.5) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
			const bad = [];
			for (const el of document.querySelectorAll("body *")) {
				if (el.closest(".leaflet-container") || el.closest(":disabled") || el.closest("[hidden]")) continue;
				const text = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.trim()).join("");
				if (!text || el.getClientRects().length === 0) continue;
				const st = getComputedStyle(el);
				if (st.visibility !== "visible") continue;
				const fg = rgba(st.color);
				if (!fg) continue;
				const l1 = lum(fg), l2 = lum(background(el));
				const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
				const size = parseFloat(st.fontSize), large = size >= 24 || (+st.fontWeight >= 700 && size >= 18.66);
				if (ratio < (large ? 3 : 4.5)) bad.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " " + JSON.stringify(text.slice(0, 30)) + " " + ratio.toFixed(2) + ":1");
			}
			return bad;
		})()`, &lowContrast)
		if len(lowContrast) > 0 {
			t.Errorf("%s: text below WCAG contrast: %v", view, lowContrast)
		}
	}
	mapClick := func(dx, dy float64) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			box, err := chromedp.Evaluate[[]float64](`(() => { const r = document.getElementById("map").getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)(ctx, t)
			if err != nil {
				return err
			}
			_, err = chromedp.MouseClickXY(box[0]+box[2]/2+dx, box[1]+box[3]/2+dy)(ctx, t)
			return err
		})
	}

	// Login: the link `geotrack dev` printed; the fragment is gone at once.
	run("open the login link", chromedp.Navigate(link))
	waitJS("logged in as a viewer", `document.getElementById("role")?.textContent === "viewer"`, 10*time.Second)
	var hash, tenant string
	eval(`location.hash`, &hash)
	eval(`document.getElementById("tenant").textContent`, &tenant)
	if strings.Contains(hash, "token") || tenant != "tenant demo" {
		t.Fatalf("after login: hash %q, tenant %q; want the token gone and tenant demo", hash, tenant)
	}

	// Keyboard: the first Tab reaches the skip link, Enter moves the focus to
	// the panel without leaving the view.
	run("tab to the skip link", chromedp.Evaluate[chromedp.Void](`void document.activeElement.blur()`), chromedp.KeyEvent(kb.Tab))
	var focused string
	eval(`document.activeElement.className`, &focused)
	if focused != "skip" {
		t.Fatalf("the first Tab focuses %q, want the skip link", focused)
	}
	run("skip", chromedp.KeyEvent(kb.Enter))
	eval(`document.activeElement.id + " " + location.hash`, &focused)
	if focused != "panel #/fleet" {
		t.Fatalf("after the skip link: focus and hash %q, want the panel on #/fleet", focused)
	}

	// Fleet: the simulated devices, moving.
	waitJS("25 devices listed", `document.querySelectorAll('#fleet-list li[data-device^="sim-"]').length === 25`, 15*time.Second)
	checkLabels("fleet")
	var first map[string]string
	eval(`(() => { const li = document.querySelector("#fleet-list li[data-device]"); return {id: li.dataset.device, coords: li.querySelector(".coords").textContent}; })()`, &first)
	waitJS("a device moves", fmt.Sprintf(`document.querySelector('#fleet-list li[data-device=%q] .coords').textContent !== %q`, first["id"], first["coords"]), 10*time.Second)
	run("search", chromedp.SendKeys(chromedp.ID("fleet-search"), first["id"]))
	waitJS("search narrows the list", `document.querySelectorAll("#fleet-list li[data-device]").length === 1`, 5*time.Second)
	setValue("fleet-search", "")
	shot("fleet")

	// A viewer cannot edit fences or rules.
	run("geofences as viewer", chromedp.Navigate(base+"/function/dashboard/#/geofences"))
	waitJS("viewer's geofences view", `document.querySelector("#fence-editor p")`, 5*time.Second)
	var viewerButtons int
	eval(`document.querySelectorAll("#fence-new, #rule-form, #prefs-save").length`, &viewerButtons)
	if viewerButtons != 0 {
		t.Fatalf("a viewer sees %d editing controls", viewerButtons)
	}

	// Admin from here on.
	run("log in as admin", chromedp.Navigate(base+"/function/dashboard/#token="+admin))
	waitJS("logged in as admin", `document.getElementById("role")?.textContent === "admin"`, 10*time.Second)

	// Device: the history over the default range, played back.
	run("device view", chromedp.Navigate(base+"/function/dashboard/#/device/van-1"))
	// A history shorter than the view's budget is shown whole, unsimplified.
	waitJS("track loaded", fmt.Sprintf(`+document.body.dataset.trackPoints === %d && document.body.dataset.trackMode === "exact"`, len(sim.Fixes)), 15*time.Second)
	waitJS("trips and stops listed", `document.querySelectorAll("#trips-list li.trip").length === 2 && document.querySelectorAll("#trips-list li.stop").length >= 2`, 10*time.Second)
	var chartSeries int
	eval(`document.querySelectorAll("#chart .u-legend .u-series").length`, &chartSeries)
	if chartSeries != 3 {
		t.Errorf("the chart has %d legend rows, want time, speed and altitude", chartSeries)
	}
	checkLabels("device")
	// The exports stream the whole range from track: capture the files a
	// click would save (the Blob behind the download link) and count points.
	counts, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]int](`(async () => {
		const blobs = {}, orig = URL.createObjectURL, click = HTMLAnchorElement.prototype.click;
		let last = null;
		URL.createObjectURL = (b) => { last = b; return orig(b); };
		HTMLAnchorElement.prototype.click = function () { if (this.download) blobs[this.download] = last; else click.call(this); };
		try {
			document.getElementById("export-gpx").click();
			document.getElementById("export-geojson").click();
			document.getElementById("export-privacy").click();
			for (let i = 0; i < 200 && !(blobs["van-1.gpx"] && blobs["van-1.geojson"] && blobs["van-1-privacy.zip"]); i++) await new Promise((r) => setTimeout(r, 100));
		} finally {
			URL.createObjectURL = orig;
			HTMLAnchorElement.prototype.click = click;
		}
		const out = {};
		if (blobs["van-1.gpx"]) out.gpx = (await blobs["van-1.gpx"].text()).split("<trkpt ").length - 1;
		if (blobs["van-1.geojson"]) out.geojson = JSON.parse(await blobs["van-1.geojson"].text()).features[0].geometry.coordinates.length;
		if (blobs["van-1-privacy.zip"]) {
			// A ZIP (local file header magic) whose central directory names the manifest.
			const bytes = new Uint8Array(await blobs["van-1-privacy.zip"].arrayBuffer());
			const text = new TextDecoder("latin1").decode(bytes);
			out.zip = bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4 && text.includes("manifest.json") ? 1 : 0;
		}
		return out;
	})()`, func(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }))
	if err != nil || counts["gpx"] != len(sim.Fixes) || counts["geojson"] != len(sim.Fixes) || counts["zip"] != 1 {
		t.Fatalf("exports: %v (%v), want van-1.gpx and van-1.geojson with %d points each and the privacy ZIP with its manifest", counts, err, len(sim.Fixes))
	}
	run("play", chromedp.Click(chromedp.ID("play")))
	waitJS("playback reaches the end", `document.body.dataset.played === "true" && +document.getElementById("playback").value === +document.getElementById("playback").max`, 30*time.Second)
	shot("device")

	// Geofences: a polygon drawn with four clicks on the map.
	run("geofences view", chromedp.Navigate(base+"/function/dashboard/#/geofences"))
	waitJS("fence list", `document.getElementById("fence-new")`, 5*time.Second)
	run("new fence", chromedp.Click(chromedp.ID("fence-new")),
		chromedp.SendKeys(chromedp.ID("fence-name"), "Depot"),
		mapClick(-120, -90), mapClick(120, -90), mapClick(120, 90), mapClick(-120, 90))
	checkLabels("geofences")
	shot("geofences-draw")
	run("save fence", chromedp.Click(chromedp.ID("fence-save")))
	waitJS("the fence listed", `[...document.querySelectorAll("#fence-list li")].some(li => li.textContent.includes("Depot"))`, 10*time.Second)
	var fences struct {
		Features []struct {
			ID       string
			Geometry struct {
				Type        string
				Coordinates [][][2]float64
			}
			Properties struct{ Name string }
		}
	}
	r := call(t, http.MethodGet, api+"geofences", admin, nil, nil)
	r.JSON(t, &fences)
	if len(fences.Features) != 1 || fences.Features[0].Properties.Name != "Depot" || fences.Features[0].Geometry.Type != "Polygon" ||
		len(fences.Features[0].Geometry.Coordinates[0]) != 5 {
		t.Fatalf("fences through the API: %s", r.Body)
	}
	// Edit it: a dwell time, one corner dragged by typing new corners.
	run("edit fence", chromedp.Click(chromedp.CSS(`#fence-list li[data-fence] button`)))
	waitJS("the editor holds the fence", `document.getElementById("fence-name")?.value === "Depot" && document.getElementById("fence-coords").value.split("\n").length === 4`, 5*time.Second)
	setValue("fence-dwell", "120")
	run("save the edit", chromedp.Click(chromedp.ID("fence-save")))
	waitJS("the edit listed", `[...document.querySelectorAll("#fence-list li")].some(li => li.textContent.includes("dwell 120 s"))`, 10*time.Second)
	r = call(t, http.MethodGet, api+"geofences?id="+fences.Features[0].ID, admin, nil, nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"dwell_s":120`) || !strings.Contains(string(r.Body), `"name":"Depot"`) {
		t.Fatalf("the edited fence through the API: %d %s", r.Status, r.Body)
	}
	shot("geofences")
	var lat, lon float64
	for _, p := range fences.Features[0].Geometry.Coordinates[0][:4] {
		lon += p[0] / 4
		lat += p[1] / 4
	}

	// Alerts: a webhook rule created in the page, its secret shown once; the
	// receiver refuses (410), so the alert dies and is replayed.
	var hooked atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hooked.Add(1)
		w.WriteHeader(http.StatusGone) // refused for good: a dead letter at once
	}))
	t.Cleanup(recv.Close)
	run("alerts view", chromedp.Navigate(base+"/function/dashboard/#/alerts"))
	waitJS("rule form", `document.getElementById("rule-form")`, 5*time.Second)
	checkLabels("alerts")
	run("create rule",
		chromedp.SendKeys(chromedp.ID("rule-name"), "depot entries"),
		chromedp.SendKeys(chromedp.ID("rule-url"), recv.URL+"/dashboard"),
		chromedp.SendKeys(chromedp.ID("rule-devices"), "scripted-1"),
		chromedp.Click(chromedp.ID("rule-create")))
	waitJS("the secret shown once", `/^whsec_/.test(document.querySelector("#rule-secret code")?.textContent || "")`, 5*time.Second)
	waitJS("the rule listed", `document.querySelector("#rules-list li[data-rule]")`, 5*time.Second)
	if r := call(t, http.MethodGet, api+"rules", admin, nil, nil); strings.Contains(string(r.Body), "whsec_") {
		t.Fatalf("the rule listing shows the secret: %s", r.Body)
	}
	time.Sleep(2500 * time.Millisecond) // fence changes reach detect's index within 2 s
	now := time.Now().UTC().Truncate(time.Second)
	for i, p := range [][2]float64{{lat + 0.2, lon}, {lat, lon}} { // far outside, then at the fence's centre
		body := fmt.Sprintf(`{"device":"scripted-1","ts":%q,"lat":%f,"lon":%f}`, now.Add(time.Duration(i-2)*time.Second).Format(time.RFC3339), p[0], p[1])
		if r := call(t, http.MethodPost, api+"ingest", svc, hdr("Content-Type", "application/json"), []byte(body)); r.Status != http.StatusAccepted {
			t.Fatalf("ingest: %d %s", r.Status, r.Body)
		}
	}
	waitJS("the entry in the event log", `[...document.querySelectorAll("#eventlog-list li")].some(li => li.textContent.includes("geofence.entered") && li.textContent.includes("scripted-1"))`, 20*time.Second)
	waitJS("the alert listed", `[...document.querySelectorAll("#fired-list li[data-alert]")].some(li => li.textContent.includes("depot entries") && li.textContent.includes("scripted-1"))`, 20*time.Second)
	waitJS("the alert in the dead letters", `document.querySelector("#dead-list li[data-alert] button")`, 20*time.Second)
	eval(`(() => { document.getElementById("fired").scrollIntoView(); return true; })()`, new(bool))
	shot("alerts")
	run("replay", chromedp.Click(chromedp.CSS("#dead-list li[data-alert] button")))
	waitJS("replayed", `document.getElementById("status").textContent.startsWith("Replaying")`, 5*time.Second)
	testenv.Eventually(t, "the replay reaches the receiver", 15*time.Second, func() bool {
		r := call(t, http.MethodGet, api+"alerts?dead=true", admin, nil, nil)
		return r.Status == http.StatusOK && !strings.Contains(string(r.Body), `"state":"pending"`) && hooked.Load() >= 2
	})

	// Preferences: the tenant's report interval and a privacy zone drawn on the map.
	run("preferences view", chromedp.Navigate(base+"/function/dashboard/#/preferences"))
	waitJS("tenant form", `document.getElementById("prefs-form")`, 5*time.Second)
	checkLabels("preferences")
	setValue("prefs-interval", "30")
	run("edit preferences",
		chromedp.Click(chromedp.ID("zone-add")),
		mapClick(0, 0))
	waitJS("the zone listed", `document.querySelector("#zone-list li button")`, 5*time.Second)
	run("save preferences", chromedp.Click(chromedp.ID("prefs-save")))
	waitJS("saved", `document.getElementById("status").textContent.startsWith("Saved preferences")`, 5*time.Second)
	var prefs struct {
		Preferences struct {
			Report struct {
				IntervalS float64 `json:"interval_s"`
			}
			PrivacyZones []struct {
				Name     string
				Lat, Lon float64
				RadiusM  float64 `json:"radius_m"`
			} `json:"privacy_zones"`
		}
	}
	r = call(t, http.MethodGet, api+"preferences", admin, nil, nil)
	r.JSON(t, &prefs)
	if prefs.Preferences.Report.IntervalS != 30 || len(prefs.Preferences.PrivacyZones) != 1 || prefs.Preferences.PrivacyZones[0].RadiusM != 150 ||
		math.Abs(prefs.Preferences.PrivacyZones[0].Lat) < 1 {
		t.Fatalf("preferences through the API: %s", r.Body)
	}
	shot("preferences")

	// A phone: the panel above the map, the fleet still listed; then every
	// other view there, with the same label and contrast checks.
	phoneLayout := func(view string) {
		t.Helper()
		var overflow bool
		eval(`document.documentElement.scrollWidth > window.innerWidth + 1`, &overflow)
		if overflow {
			t.Errorf("%s: the phone-sized page scrolls sideways", view)
		}
		// The panel stacked above the map, the map still given room.
		var layout struct {
			PanelBottom float64 `json:"panelBottom"`
			MapTop      float64 `json:"mapTop"`
			MapWidth    float64 `json:"mapWidth"`
			MapHeight   float64 `json:"mapHeight"`
		}
		eval(`(() => { const p = document.getElementById("panel").getBoundingClientRect(), m = document.getElementById("map").getBoundingClientRect();
			return {panelBottom: p.bottom, mapTop: m.top, mapWidth: m.width, mapHeight: m.height}; })()`, &layout)
		if layout.MapTop < layout.PanelBottom-1 || layout.MapWidth < 380 || layout.MapHeight < 200 {
			t.Errorf("%s on a phone: panel bottom %.0f, map at %.0f, %.0f×%.0f px: want the map below the panel, full width, at least 200 px high",
				view, layout.PanelBottom, layout.MapTop, layout.MapWidth, layout.MapHeight)
		}
	}
	run("phone window", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(base+"/function/dashboard/#/fleet"))
	waitJS("fleet on a phone", `document.querySelectorAll("#fleet-list li[data-device]").length >= 25`, 15*time.Second)
	checkLabels("fleet on a phone")
	phoneLayout("fleet")
	shot("fleet-phone")
	for _, v := range []struct{ name, hash, ready, open string }{
		{"device", "#/device/van-1", `document.body.dataset.trackMode === "exact" && document.querySelector("#trips-list li.trip") && document.querySelector("#chart canvas")`, ""},
		{"geofences", "#/geofences", `document.querySelector("#fence-list li[data-fence]") && document.getElementById("fence-new")`, "fence-new"},
		{"alerts", "#/alerts", `document.querySelector("#rules-list li[data-rule]") && document.querySelector("#eventlog-list li")`, ""},
		{"preferences", "#/preferences", `document.getElementById("prefs-form") && document.querySelector("#zone-list li strong")`, ""},
	} {
		run(v.name+" on a phone", chromedp.Navigate(base+"/function/dashboard/"+v.hash))
		waitJS(v.name+" on a phone", v.ready, 15*time.Second)
		if v.open != "" {
			run("open "+v.open, chromedp.Click(chromedp.ID(v.open)))
		}
		checkLabels(v.name + " on a phone")
		phoneLayout(v.name)
		artifact(v.name + "-phone")
	}

	if e := errs.list(); len(e) > 0 {
		t.Fatalf("browser console errors:\n%s", strings.Join(e, "\n"))
	}
}

func clipJS(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// TestDashboardRoleMatrix: the dashboard serves the same public files to
// every caller, whatever credentials come along (it verifies none and
// holds no tenant data: the API calls the page makes are checked by the
// other matrices), refuses writes and serves nothing outside its bundle.
func TestDashboardRoleMatrix(t *testing.T) {
	p := startFunction(t, "dashboard", map[string]string{"TILE_URL": ""})
	index := call(t, http.MethodGet, p.URL+"/", "", nil, nil)
	if index.Status != http.StatusOK || !strings.Contains(string(index.Body), `<script src="app.js"`) {
		t.Fatalf("index: %d %.200s", index.Status, index.Body)
	}
	callers := []struct{ name, tok string }{
		{"no token", ""},
		{"viewer", token(t, "acme", auth.RoleViewer, "")},
		{"admin", token(t, "acme", auth.RoleAdmin, "")},
		{"admin of another tenant", token(t, "globex", auth.RoleAdmin, "")},
		{"device", token(t, "acme", auth.RoleDevice, "van-1")},
		{"service", token(t, "acme", auth.RoleService, "")},
		{"garbage", "not.a.jwt"},
	}
	for _, cl := range callers {
		t.Run(cl.name, func(t *testing.T) {
			r := call(t, http.MethodGet, p.URL+"/", cl.tok, nil, nil)
			if r.Status != http.StatusOK || !bytes.Equal(r.Body, index.Body) {
				t.Errorf("GET /: %d, same page %v", r.Status, bytes.Equal(r.Body, index.Body))
			}
			r = call(t, http.MethodGet, p.URL+"/config.json", cl.tok, nil, nil)
			if r.Status != http.StatusOK || strings.Contains(string(r.Body), "acme") || strings.Contains(string(r.Body), "globex") {
				t.Errorf("config.json: %d %s", r.Status, r.Body)
			}
			for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
				if r := call(t, m, p.URL+"/", cl.tok, hdr("Content-Type", "application/json"), []byte(`{}`)); r.Status != http.StatusMethodNotAllowed {
					t.Errorf("%s /: %d, want 405", m, r.Status)
				}
			}
			for _, path := range []string{"/dashboard.go", "/.env", "/x/../../go.mod", "/functions/dashboard/config.go"} {
				if r := call(t, http.MethodGet, p.URL+path, cl.tok, nil, nil); r.Status != http.StatusNotFound {
					t.Errorf("GET %s: %d, want 404", path, r.Status)
				}
			}
			// A folder-like path is the app (the page), never a file of the host.
			if r := call(t, http.MethodGet, p.URL+"/../../etc/passwd", cl.tok, nil, nil); strings.Contains(string(r.Body), "root:") {
				t.Errorf("GET /../../etc/passwd served the host's file")
			}
		})
	}
	// The runtime of every function: probes and metrics.
	m := call(t, http.MethodGet, p.URL+"/metrics", "", nil, nil)
	if m.Status != http.StatusOK || !strings.Contains(string(m.Body), `geotrack_http_requests_total{function="dashboard",method="GET",code="200"}`) {
		t.Fatalf("metrics: %d %.300s", m.Status, m.Body)
	}
}

// browserDo runs actions in the page within timeout; a failure names what
// was being done and the browser's errors so far.
func browserDo(t *testing.T, ctx context.Context, errs *browserErrors, timeout time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		t.Fatalf("%s: %v (browser errors so far: %v)", what, err, errs.list())
	}
}

// browserString evaluates js in the page to a string.
func browserString(t *testing.T, ctx context.Context, js string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}
