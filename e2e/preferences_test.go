package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// TestPreferencesPauseAndPrivacyZonesInTheCloud: with a device paused and
// a privacy zone set, ingest stores none of the paused device's fixes and
// none inside the zone; the reply counts them by reason, and so does
// geotrack_ingest_dropped_total. Malformed documents are refused, naming
// the field, and change nothing.
func TestPreferencesPauseAndPrivacyZonesInTheCloud(t *testing.T) {
	rs := testenv.StartRedis(t)
	rc, err := redisstore.Open(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	base := startDev(t, rs.URL)
	admin := token(t, "acme", auth.RoleAdmin, "")
	svc := token(t, "acme", auth.RoleService, "")
	json_ := hdr("Content-Type", "application/json")

	for _, bad := range []string{`{"tracking":"off"}`, `{"privacy_zones":[{"name":"x","lat":1,"lon":1}]}`, `{"colour":1}`} {
		r := call(t, http.MethodPut, base+"/function/preferences", admin, json_, []byte(bad))
		if r.Status != http.StatusBadRequest {
			t.Fatalf("PUT %s: %d %s", bad, r.Status, r.Body)
		}
	}
	if n, _ := rc.Exists(context.Background(), redisstore.PreferencesKey("gt", "acme")).Result(); n != 0 {
		t.Fatal("a refused document was stored")
	}
	put := func(query, doc string) {
		r := call(t, http.MethodPut, base+"/function/preferences"+query, admin, json_, []byte(doc))
		if r.Status != http.StatusOK {
			t.Fatalf("PUT %s %s: %d %s", query, doc, r.Status, r.Body)
		}
	}
	put("", `{"privacy_zones":[{"name":"home","lat":51.5,"lon":-0.1,"radius_m":300}]}`)
	put("?device=paused-1", `{"tracking":"paused"}`)

	body := "[" + strings.Join([]string{
		fixJSON("paused-1", 0, 52.0, 0.5),  // paused
		fixJSON("paused-1", 1, 52.0, 0.5),  // paused
		fixJSON("car-1", 0, 51.5005, -0.1), // 55 m from home: in the zone
		fixJSON("car-1", 1, 51.52, -0.1),   // 2.2 km away: stored
	}, ",") + "]"
	r := call(t, http.MethodPost, base+"/function/ingest", svc, json_, []byte(body))
	if r.Status != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", r.Status, r.Body)
	}
	var s struct {
		Accepted int            `json:"accepted"`
		Dropped  map[string]int `json:"dropped"`
	}
	r.JSON(t, &s)
	if s.Accepted != 1 || s.Dropped["paused"] != 2 || s.Dropped["privacy_zone"] != 1 {
		t.Fatalf("reply %s, want 1 accepted, 2 paused, 1 privacy_zone", r.Body)
	}
	for device, want := range map[string]int64{"paused-1": 0, "car-1": 1} {
		n, err := rc.ZCard(context.Background(), fmt.Sprintf("gt:{acme}:h:%s", device)).Result()
		if err != nil || n != want {
			t.Errorf("history of %s: %d fixes (%v), want %d", device, n, err, want)
		}
	}
	if got := metric(t, base, `geotrack_ingest_dropped_total{reason="paused"}`); got != 2 {
		t.Errorf(`geotrack_ingest_dropped_total{reason="paused"} = %g, want 2`, got)
	}

	// Resuming applies within the preferences cache time (2 s).
	put("?device=paused-1", `{"tracking":"on"}`)
	testenv.Eventually(t, "resumed device stored", 5*time.Second, func() bool {
		r := call(t, http.MethodPost, base+"/function/ingest", svc, json_, []byte(fixJSON("paused-1", int(time.Now().Unix()%1000)+10, 52.0, 0.5)))
		var s struct{ Accepted int }
		json.Unmarshal(r.Body, &s)
		return s.Accepted == 1
	})
}

// TestOwnTracksGetsSetConfigurationWhenReportSettingsChange: the first
// report after the device's report preferences changed is answered with an
// OwnTracks setConfiguration command; the next one with [] again.
func TestOwnTracksGetsSetConfigurationWhenReportSettingsChange(t *testing.T) {
	rs := testenv.StartRedis(t)
	base := startDev(t, rs.URL)
	admin := token(t, "acme", auth.RoleAdmin, "")
	phone := token(t, "acme", auth.RoleDevice, "alice:phone")
	report := func(sec int) []map[string]any {
		t.Helper()
		body := fmt.Sprintf(`{"_type":"location","lat":48.1,"lon":11.5,"tst":%d,"acc":5}`, time.Now().Unix()-int64(600-sec))
		r := call(t, http.MethodPost, base+"/function/owntracks", phone, hdr("Content-Type", "application/json", "X-Limit-U", "alice", "X-Limit-D", "phone"), []byte(body))
		if r.Status != http.StatusOK {
			t.Fatalf("owntracks: %d %s", r.Status, r.Body)
		}
		var out []map[string]any
		r.JSON(t, &out)
		return out
	}
	if got := report(0); len(got) != 0 {
		t.Fatalf("no preferences yet: reply %v, want []", got)
	}
	r := call(t, http.MethodPut, base+"/function/preferences?device=alice:phone", admin, hdr("Content-Type", "application/json"),
		[]byte(`{"report":{"interval_s":30,"displacement_m":50}}`))
	if r.Status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.Status, r.Body)
	}
	var got []map[string]any
	testenv.Eventually(t, "setConfiguration in a reply", 5*time.Second, func() bool {
		got = report(int(time.Now().UnixMilli() % 500))
		return len(got) == 1
	})
	cmd := got[0]
	conf, _ := cmd["configuration"].(map[string]any)
	if cmd["_type"] != "cmd" || cmd["action"] != "setConfiguration" || conf["_type"] != "configuration" ||
		conf["locatorInterval"] != 30.0 || conf["locatorDisplacement"] != 50.0 || conf["monitoring"] != 2.0 {
		t.Fatalf("reply %v", got)
	}
	if again := report(550); len(again) != 0 {
		t.Errorf("unchanged settings sent again: %v", again)
	}
}

// TestEdgeSyncsPreferences: an edge node pulls its tenant's preferences
// from the cloud's preferences function (service token, ETag), drops a
// paused device's fixes and fixes in a privacy zone before keeping anything
// (not even in the raw log), applies new filter settings without a
// restart, and after a restart with the cloud away still applies the copy
// it kept in its Redis.
func TestEdgeSyncsPreferences(t *testing.T) {
	cloudRedis := testenv.StartRedis(t)
	prefs := startFunction(t, "preferences", map[string]string{"REDIS_URL": cloudRedis.URL})
	admin := token(t, "acme", auth.RoleAdmin, "")
	put := func(query, doc string) int64 {
		t.Helper()
		r := call(t, http.MethodPut, prefs.URL+query, admin, hdr("Content-Type", "application/json"), []byte(doc))
		if r.Status != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", doc, r.Status, r.Body)
		}
		var res struct{ Version int64 }
		r.JSON(t, &res)
		return res.Version
	}
	put("", `{"privacy_zones":[{"name":"home","lat":51.5,"lon":-0.1,"radius_m":300}]}`)
	v := put("?device=paused-1", `{"tracking":"paused"}`)

	edgeRedis := testenv.StartRedis(t)
	erc, err := redisstore.Open(edgeRedis.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { erc.Close() })
	env := map[string]string{"REDIS_URL": edgeRedis.URL, "PREFERENCES_URL": prefs.URL, "PREFERENCES_SYNC_INTERVAL": "200ms",
		"EDGE_SERVICE_TOKEN": token(t, "acme", auth.RoleService, "")}
	edge := startFunction(t, "edge-ingest", env)
	waitVersion := func(p *proc, v int64) {
		t.Helper()
		testenv.Eventually(t, fmt.Sprintf("edge runs preferences version %d", v), 10*time.Second, func() bool {
			return metric(t, p.URL, "geotrack_edge_preferences_version") == float64(v)
		})
	}
	waitVersion(edge, v)
	if r := call(t, http.MethodGet, edge.URL+"/_/ready", "", nil, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), fmt.Sprintf("preferences_version=%d", v)) {
		t.Errorf("/_/ready: %d %q, want the preferences version", r.Status, r.Body)
	}

	dev := token(t, "acme", auth.RoleService, "")
	send := func(p *proc, fixes ...string) map[string]int {
		t.Helper()
		r := call(t, http.MethodPost, p.URL, dev, hdr("Content-Type", "application/json"), []byte("["+strings.Join(fixes, ",")+"]"))
		if r.Status != http.StatusAccepted {
			t.Fatalf("edge-ingest: %d %s", r.Status, r.Body)
		}
		var s struct{ Dropped map[string]int }
		r.JSON(t, &s)
		return s.Dropped
	}
	got := send(edge, fixJSON("paused-1", 0, 52, 0.5), fixJSON("car-1", 0, 51.5004, -0.1), fixJSON("car-1", 1, 51.52, -0.1))
	if got["paused"] != 1 || got["privacy_zone"] != 1 {
		t.Fatalf("dropped %v, want 1 paused and 1 privacy_zone", got)
	}
	raw, err := erc.XRange(context.Background(), redisstore.RawKey, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range raw {
		if s := fmt.Sprint(m.Values); strings.Contains(s, "paused-1") || strings.Contains(s, "51.5004") {
			t.Errorf("raw log keeps a dropped fix: %s", s)
		}
	}

	// New filter settings apply at the next sync, no restart.
	if d := send(edge, fixJSON("slow-1", 0, 48, 11), fixJSON("slow-1", 10, 48.01, 11)); d["too_soon"] != 0 {
		t.Fatalf("before: dropped %v", d)
	}
	v = put("?device=slow-1", `{"filter":{"min_interval_s":3600}}`)
	waitVersion(edge, v)
	if d := send(edge, fixJSON("slow-1", 20, 48.02, 11), fixJSON("slow-1", 30, 48.03, 11)); d["too_soon"] < 1 {
		t.Fatalf("after min_interval_s 3600: dropped %v, want too_soon", d)
	}

	// owntracks at the edge answers from the synced copy too.
	v = put("?device=alice:phone", `{"report":{"interval_s":60}}`)
	otEnv := map[string]string{"EDGE_MODE": "true"}
	for k, val := range env {
		otEnv[k] = val
	}
	ot := startFunction(t, "owntracks", otEnv)
	waitVersion(ot, v)
	body := fmt.Sprintf(`{"_type":"location","lat":48.1,"lon":11.5,"tst":%d}`, time.Now().Unix()-60)
	r := call(t, http.MethodPost, ot.URL, token(t, "acme", auth.RoleDevice, "alice:phone"), hdr("Content-Type", "application/json", "X-Limit-U", "alice", "X-Limit-D", "phone"), []byte(body))
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"setConfiguration"`) || !strings.Contains(string(r.Body), `"locatorInterval":60`) {
		t.Errorf("edge owntracks: %d %s, want a setConfiguration with locatorInterval 60", r.Status, r.Body)
	}
	waitVersion(edge, v)

	// The cloud goes away; a restarted edge applies the copy it kept.
	prefs.stop(t)
	edge.stop(t)
	edge = startFunction(t, "edge-ingest", env)
	waitVersion(edge, v)
	if d := send(edge, fixJSON("paused-1", 5, 52, 0.5)); d["paused"] != 1 {
		t.Fatalf("after restart without the cloud: dropped %v, want paused", d)
	}
}

// TestRetentionPreference: a device whose retention preference is shorter
// than the store's keeps only that much history: fixes older than it are
// not stored (dropped.retention) and older points go at its next save.
func TestRetentionPreference(t *testing.T) {
	rs := testenv.StartRedis(t)
	rc, err := redisstore.Open(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	base := startDev(t, rs.URL)
	svc := token(t, "acme", auth.RoleService, "")
	jsonH := hdr("Content-Type", "application/json")
	at := func(ago time.Duration) string {
		return fmt.Sprintf(`{"device":"ret-1","ts":%q,"lat":48.1,"lon":11.5}`, time.Now().Add(-ago).UTC().Format(time.RFC3339))
	}
	ingest := func(body string) map[string]int {
		t.Helper()
		r := call(t, http.MethodPost, base+"/function/ingest", svc, jsonH, []byte(body))
		if r.Status != http.StatusAccepted {
			t.Fatalf("ingest: %d %s", r.Status, r.Body)
		}
		var s struct{ Dropped map[string]int }
		r.JSON(t, &s)
		return s.Dropped
	}
	ingest(at(3 * time.Hour)) // before any preference: kept
	r := call(t, http.MethodPut, base+"/function/preferences?device=ret-1", token(t, "acme", auth.RoleAdmin, ""), jsonH, []byte(`{"retention":"1h"}`))
	if r.Status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.Status, r.Body)
	}
	time.Sleep(2100 * time.Millisecond) // the cloud's preferences cache
	if d := ingest("[" + at(2*time.Hour) + "," + at(10*time.Minute) + "]"); d["retention"] != 1 {
		t.Fatalf("dropped %v, want 1 retention", d)
	}
	n, err := rc.ZCard(context.Background(), "gt:{acme}:h:ret-1").Result()
	if err != nil || n != 1 {
		t.Errorf("history holds %d points (%v), want only the 10-minute-old one", n, err)
	}
}
