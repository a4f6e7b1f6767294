package e2e

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/minio/minio-go/v7"
	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/redisstore"
	"github.com/geotrack/geotrack/internal/testenv"
)

// Issue 12 §1 (h20): the privacy function end to end against real Redis
// and real MinIO: a device with hot, archived, event, alert, preference and
// fence data is exported (the ZIP holds exactly its data) and erased
// (nothing of it remains in any Redis key or object; the other device is
// untouched; its older fixes arriving later are dropped, newer ones start a
// new history), each action audited.

const (
	erasedDevice = "truck:00"
	keptDevice   = "truck:01"
)

// privacyRig seeds two devices' data in every place the cloud keeps it.
type privacyRig struct {
	*archiveEnv
	client  redis.UniversalClient
	privacy *proc
	ingest  *proc
	arch    *proc
	admin   string
	base    func(p *proc) string
	fixes   map[string][]fix.Fix // everything stored, by device
}

func startPrivacyRig(t *testing.T) *privacyRig {
	t.Helper()
	e := startArchiveEnv(t, 2)
	client, err := redisstore.Open(e.redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	r := &privacyRig{archiveEnv: e, client: client, admin: token(t, "acme", auth.RoleAdmin, "")}
	now := time.Now()
	r.fixes = archiveFixes(2, 4, 48, now) // truck:00 and truck:01, 4 days, some archived below
	e.load(t, r.fixes, now)

	// Archive the days older than HOT_RETENTION (48h) to MinIO.
	r.arch = startFunction(t, "archiver", e.env)
	if status, res := runPass(t, r.arch, token(t, "acme", auth.RoleService, "")); status != http.StatusOK || res.Objects == 0 {
		t.Fatalf("archiver pass: %d %+v", status, res)
	}
	if n := r.objectsOf(t, erasedDevice); n == 0 {
		t.Fatal("nothing of the device archived: the test would not cover the archive tier")
	}

	ctx := context.Background()
	// Event log and event outbox entries, alert records (through the alert
	// store's Fire, as the alert engine writes them).
	alerts := redisstore.NewAlerts(client, 0).WithEventOutbox(1000, nil)
	for i, dev := range []string{erasedDevice, keptDevice} {
		limit := 10.0
		rule := alert.Rule{ID: "speedy", Name: "speeding", On: []string{"io.geotrack.location.updated"}, When: alert.When{SpeedAbove: &limit}}
		cause := fmt.Sprintf(`{"specversion":"1.0","id":"c%d","source":"/e2e","type":"io.geotrack.location.updated","subject":%q,"time":%q}`, i, dev, now.UTC().Format(time.RFC3339))
		if _, err := alerts.Fire(ctx, alert.Fired{ID: fmt.Sprintf("a-%d", i), Tenant: "acme", Rule: rule, Device: dev, At: now, Cause: json.RawMessage(cause)},
			mustEmit(t, alert.Fired{ID: fmt.Sprintf("a-%d", i), Tenant: "acme", Rule: rule, Device: dev, At: now, Cause: json.RawMessage(cause)})); err != nil {
			t.Fatal(err)
		}
	}

	r.privacy = startFunction(t, "privacy", e.env)
	prefs := startFunction(t, "preferences", map[string]string{"REDIS_URL": e.redis.URL})
	fences := startFunction(t, "geofences", map[string]string{"REDIS_URL": e.redis.URL})
	r.ingest = startFunction(t, "ingest", map[string]string{"REDIS_URL": e.redis.URL})
	jsonH := hdr("Content-Type", "application/json")
	for _, dev := range []string{erasedDevice, keptDevice} {
		if resp := call(t, http.MethodPut, prefs.URL+"/?device="+url.QueryEscape(dev), r.admin, jsonH, []byte(`{"retention":"720h"}`)); resp.Status/100 != 2 {
			t.Fatalf("preferences: %d %s", resp.Status, resp.Body)
		}
	}
	for _, fc := range []string{
		`{"type":"Feature","id":"both","geometry":{"type":"Point","coordinates":[13.4,52.5]},"properties":{"name":"depot","radius_m":100,"devices":["truck:00","truck:01"]}}`,
		`{"type":"Feature","id":"only-erased","geometry":{"type":"Point","coordinates":[13.5,52.5]},"properties":{"name":"home","radius_m":100,"devices":["truck:00"]}}`,
	} {
		var head struct{ ID string }
		_ = json.Unmarshal([]byte(fc), &head)
		if resp := call(t, http.MethodPut, fences.URL+"/?id="+head.ID, r.admin, hdr("Content-Type", "application/geo+json"), []byte(fc)); resp.Status/100 != 2 {
			t.Fatalf("geofences: %d %s", resp.Status, resp.Body)
		}
	}
	return r
}

func mustEmit(t *testing.T, f alert.Fired) alert.Emitted {
	t.Helper()
	e, err := f.Event("/e2e")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// objectsOf counts the archive objects of device.
func (r *privacyRig) objectsOf(t *testing.T, device string) int {
	t.Helper()
	n := 0
	for obj := range r.s3.ListObjects(context.Background(), archiveBucket, minio.ListObjectsOptions{Prefix: "tenant=acme/device=" + strings.ReplaceAll(device, ":", "%3A") + "/", Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		n++
	}
	return n
}

// redisMentions returns every key of the Redis whose name or contents hold
// needle, the audit log excepted (the record of the erasure itself).
func redisMentions(t *testing.T, client redis.UniversalClient, needle string) []string {
	t.Helper()
	ctx := context.Background()
	var found []string
	iter := client.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		if strings.HasSuffix(key, "}:audit") {
			continue
		}
		if strings.Contains(key, needle) {
			found = append(found, key)
			continue
		}
		var contents string
		switch client.Type(ctx, key).Val() {
		case "string":
			contents = client.Get(ctx, key).Val()
		case "hash":
			contents = fmt.Sprint(client.HGetAll(ctx, key).Val())
		case "set":
			contents = fmt.Sprint(client.SMembers(ctx, key).Val())
		case "zset":
			contents = fmt.Sprint(client.ZRange(ctx, key, 0, -1).Val())
		case "list":
			contents = fmt.Sprint(client.LRange(ctx, key, 0, -1).Val())
		case "stream":
			contents = fmt.Sprint(client.XRange(ctx, key, "-", "+").Val())
		}
		if strings.Contains(contents, needle) {
			found = append(found, key+" (contents)")
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return found
}

func TestPrivacyExportHoldsExactlyTheDevicesData(t *testing.T) {
	r := startPrivacyRig(t)
	resp := call(t, http.MethodGet, r.privacy.URL+"/?format=zip&device="+url.QueryEscape(erasedDevice), r.admin, nil, nil)
	if resp.Status != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("export: %d %s", resp.Status, clipBody(resp.Body))
	}
	files := unzip(t, resp.Body)
	var manifest struct {
		Device string
		Files  []struct {
			Name   string
			Count  int
			SHA256 string
		}
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	want := len(r.fixes[erasedDevice])
	counts := map[string]int{}
	for _, f := range manifest.Files {
		sum := sha256.Sum256(files[f.Name])
		if hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("%s: sha256 in the manifest does not match the file", f.Name)
		}
		counts[f.Name] = f.Count
	}
	for name, n := range map[string]int{"fixes.jsonl": want, "fixes.gpx": want, "fixes.geojson": want, "alerts.jsonl": 1, "preferences.json": 1, "fences.jsonl": 2, "events.jsonl": 1} {
		if counts[name] != n {
			t.Errorf("manifest %s: count %d, want %d", name, counts[name], n)
		}
	}
	// The files themselves: every fix of the device once (hot and archive),
	// nothing of the other device anywhere.
	seen := map[int64]bool{}
	sc := bufio.NewScanner(bytes.NewReader(files["fixes.jsonl"]))
	for sc.Scan() {
		f, err := fix.Decode(sc.Bytes(), "")
		if err != nil {
			t.Fatalf("fixes.jsonl line: %v", err)
		}
		if f.Device != erasedDevice || seen[f.TS.UnixMilli()] {
			t.Fatalf("fixes.jsonl: unexpected %s at %s", f.Device, f.TS)
		}
		seen[f.TS.UnixMilli()] = true
	}
	if len(seen) != want {
		t.Errorf("fixes.jsonl holds %d fixes, want %d", len(seen), want)
	}
	for _, f := range r.fixes[erasedDevice] {
		if !seen[f.TS.UnixMilli()] {
			t.Fatalf("fix at %s missing from the export", f.TS)
		}
	}
	if n := strings.Count(string(files["fixes.gpx"]), "<trkpt "); n != want {
		t.Errorf("fixes.gpx: %d trkpt, want %d", n, want)
	}
	var fc struct{ Features []json.RawMessage }
	if err := json.Unmarshal(files["fixes.geojson"], &fc); err != nil || len(fc.Features) != want {
		t.Errorf("fixes.geojson: %d features (%v), want %d", len(fc.Features), err, want)
	}
	for name, data := range files {
		if bytes.Contains(data, []byte(keptDevice)) && name != "fences.jsonl" {
			t.Errorf("%s names the other device", name)
		}
	}

	// A device token exports its own data only; a viewer none.
	own := call(t, http.MethodGet, r.privacy.URL+"/?device="+url.QueryEscape(erasedDevice), token(t, "acme", auth.RoleDevice, erasedDevice), nil, nil)
	other := call(t, http.MethodGet, r.privacy.URL+"/?device="+url.QueryEscape(keptDevice), token(t, "acme", auth.RoleDevice, erasedDevice), nil, nil)
	viewer := call(t, http.MethodGet, r.privacy.URL+"/?device="+url.QueryEscape(erasedDevice), token(t, "acme", auth.RoleViewer, ""), nil, nil)
	if own.Status != http.StatusOK || other.Status != http.StatusForbidden || viewer.Status != http.StatusForbidden {
		t.Errorf("device own %d, device other %d, viewer %d; want 200, 403, 403", own.Status, other.Status, viewer.Status)
	}
	waitAudited(t, r.client, "privacy.export", 2)
}

func TestPrivacyEraseLeavesNothingOfTheDevice(t *testing.T) {
	r := startPrivacyRig(t)
	ctx := context.Background()
	if len(redisMentions(t, r.client, erasedDevice)) == 0 {
		t.Fatal("no Redis key names the device before the erasure")
	}
	keptBefore := redisMentions(t, r.client, keptDevice)
	keptObjects := r.objectsOf(t, keptDevice)

	resp := call(t, http.MethodPost, r.privacy.URL+"/?action=erase&device="+url.QueryEscape(erasedDevice), r.admin, nil, nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("erase: %d %s", resp.Status, resp.Body)
	}
	var receipt struct {
		ID           string
		State        string
		ErasedBefore time.Time `json:"erased_before"`
		Tiers        map[string]struct {
			State   string
			Removed map[string]int
		}
	}
	resp.JSON(t, &receipt)
	if receipt.State != "done" || receipt.Tiers["cloud"].State != "done" || receipt.Tiers["archive"].Removed["objects"] == 0 {
		t.Fatalf("receipt: %s", resp.Body)
	}

	if left := redisMentions(t, r.client, erasedDevice); len(left) > 0 {
		t.Errorf("Redis still names the device after the erasure: %q", left)
	}
	if n := r.objectsOf(t, erasedDevice); n != 0 {
		t.Errorf("%d archive objects of the device left", n)
	}
	for obj := range r.s3.ListObjects(ctx, archiveBucket, minio.ListObjectsOptions{Recursive: true}) {
		if strings.Contains(obj.Key, "truck%3A00") {
			t.Errorf("object %s left", obj.Key)
		}
	}
	// The other device is untouched: the same keys name it, its objects
	// and history are all there.
	if keptAfter := redisMentions(t, r.client, keptDevice); fmt.Sprint(keptAfter) != fmt.Sprint(keptBefore) {
		t.Errorf("keys naming the other device changed:\n before %q\n after  %q", keptBefore, keptAfter)
	}
	if n := r.objectsOf(t, keptDevice); n != keptObjects {
		t.Errorf("other device: %d objects, want %d", n, keptObjects)
	}

	// An edge outbox draining after the erasure: the device's older fixes
	// are dropped, a newer one starts a new history.
	svc := token(t, "acme", auth.RoleService, "")
	old := fmt.Sprintf(`[{"device":%q,"ts":%q,"lat":52.5,"lon":13.4}]`, erasedDevice, receipt.ErasedBefore.Add(-time.Minute).Format(time.RFC3339Nano))
	if resp := call(t, http.MethodPost, r.ingest.URL+"/", svc, hdr("Content-Type", "application/json"), []byte(old)); resp.Status/100 != 2 || !strings.Contains(string(resp.Body), `"erased":1`) {
		t.Fatalf("late old fix: %d %s (want it dropped as erased)", resp.Status, resp.Body)
	}
	if left := redisMentions(t, r.client, erasedDevice); len(left) > 0 {
		t.Errorf("an old fix arriving after the erasure was stored: %q", left)
	}
	fresh := time.Now().Add(time.Second).UTC()
	newer := fmt.Sprintf(`[{"device":%q,"ts":%q,"lat":52.6,"lon":13.5}]`, erasedDevice, fresh.Format(time.RFC3339Nano))
	if resp := call(t, http.MethodPost, r.ingest.URL+"/", svc, hdr("Content-Type", "application/json"), []byte(newer)); resp.Status/100 != 2 {
		t.Fatalf("new fix: %d %s", resp.Status, resp.Body)
	}
	page, err := r.store.History(ctx, "acme", erasedDevice, time.Time{}, time.Time{}, 100, "")
	if err != nil || len(page.Fixes) != 1 || !page.Fixes[0].TS.Equal(fresh.Truncate(time.Millisecond)) {
		t.Fatalf("new history after the erasure: %+v %v, want the one new fix", page.Fixes, err)
	}

	// Erasing again is harmless and gives another receipt; receipts read back.
	again := call(t, http.MethodPost, r.privacy.URL+"/?action=erase&device="+url.QueryEscape(erasedDevice), r.admin, nil, nil)
	if again.Status != http.StatusOK {
		t.Fatalf("second erase: %d %s", again.Status, again.Body)
	}
	if left := redisMentions(t, r.client, erasedDevice); len(left) > 0 {
		t.Errorf("after the second erasure: %q", left)
	}
	read := call(t, http.MethodGet, r.privacy.URL+"/?receipt="+receipt.ID, r.admin, nil, nil)
	if read.Status != http.StatusOK || !strings.Contains(string(read.Body), `"state":"done"`) || strings.Contains(string(read.Body), erasedDevice) {
		t.Errorf("receipt read: %d %s", read.Status, read.Body)
	}
	if missing := call(t, http.MethodGet, r.privacy.URL+"/?receipt=0123456789abcdef0123456789abcdef", r.admin, nil, nil); missing.Status != http.StatusNotFound {
		t.Errorf("unknown receipt: %d, want 404", missing.Status)
	}
	waitAudited(t, r.client, "privacy.erase", 2)
	waitAudited(t, r.client, "privacy.receipt", 1)

	// The next archiver pass copies the audit trail to the locked bucket:
	// the erasure's record cannot be deleted, not even with root keys.
	resp = call(t, http.MethodPost, r.arch.URL+"/", token(t, "acme", auth.RoleService, ""), hdr("Content-Type", "application/json"), []byte(`{}`))
	var pass struct {
		AuditObjects int `json:"audit_objects"`
		AuditEntries int `json:"audit_entries"`
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("archiver pass: %d %s", resp.Status, resp.Body)
	}
	resp.JSON(t, &pass)
	if pass.AuditObjects == 0 || pass.AuditEntries < 3 {
		t.Fatalf("audit archive: %s", resp.Body)
	}
	var locked []minio.ObjectInfo
	for obj := range r.s3.ListObjects(ctx, "geotrack-audit", minio.ListObjectsOptions{Prefix: "tenant=acme/audit/", Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		locked = append(locked, obj)
	}
	if len(locked) != pass.AuditObjects {
		t.Fatalf("%d audit objects in the bucket, the pass wrote %d", len(locked), pass.AuditObjects)
	}
	o, err := r.s3.GetObject(ctx, "geotrack-audit", locked[0].Key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	trail, _ := io.ReadAll(o)
	o.Close()
	for _, action := range []string{"privacy.erase", "privacy.receipt"} {
		if !strings.Contains(string(trail), `"action":"`+action+`"`) {
			t.Errorf("the archived trail lacks %s", action)
		}
	}
	if err := r.s3.RemoveObject(ctx, "geotrack-audit", locked[0].Key, minio.RemoveObjectOptions{VersionID: locked[0].VersionID, GovernanceBypass: true}); err == nil {
		t.Error("deleting a locked audit object version succeeded")
	}
	if _, err := r.s3.StatObject(ctx, "geotrack-audit", locked[0].Key, minio.StatObjectOptions{VersionID: locked[0].VersionID}); err != nil {
		t.Errorf("the locked audit object is gone: %v", err)
	}
	// A second pass archives only what is new: no entry twice.
	resp = call(t, http.MethodPost, r.arch.URL+"/", token(t, "acme", auth.RoleService, ""), hdr("Content-Type", "application/json"), []byte(`{}`))
	pass.AuditEntries = 0 // omitted when 0
	resp.JSON(t, &pass)
	if resp.Status != http.StatusOK || pass.AuditEntries != 0 {
		t.Errorf("the second pass archived %d entries again", pass.AuditEntries)
	}
}

// waitAudited waits until the audit log of acme holds at least n entries
// of action.
func waitAudited(t *testing.T, client redis.UniversalClient, action string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := 0
		for _, m := range client.XRange(context.Background(), redisstore.AuditKey(redisstore.DefaultKeyPrefix, "acme"), "-", "+").Val() {
			if s, _ := m.Values["e"].(string); strings.Contains(s, `"action":"`+action+`"`) {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d audit entries of %s, want %d", got, action, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func unzip(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("export is not a ZIP: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestPrivacyRoleTenantMatrix: every role but the tenant's admin is
// refused everything (a device token may export only its own device),
// broken credentials are a 401, a refused request changes nothing, and an
// admin acts on its own tenant only.
func TestPrivacyRoleTenantMatrix(t *testing.T) {
	rs := testenv.StartRedis(t)
	fn := startFunction(t, "privacy", map[string]string{"REDIS_URL": rs.URL})
	client := openRedis(t, rs.URL)
	store := redisstore.New(client, redisstore.Options{})
	now := time.Now()
	for _, tenant := range []string{"acme", "globex"} {
		if _, err := store.Save(context.Background(), tenant, []redisstore.Group{{Fixes: []fix.Fix{{Device: "van-1", TS: now.Add(-time.Minute), Lat: 52.5, Lon: 13.4}}}}, now); err != nil {
			t.Fatal(err)
		}
	}
	expired := signRaw(t, jwt.MapClaims{"tenant": "acme", "role": "admin", "exp": time.Now().Add(-time.Hour).Unix()}, testSecret)
	wrongKey := signRaw(t, jwt.MapClaims{"tenant": "acme", "role": "admin", "exp": time.Now().Add(time.Hour).Unix()}, "another-secret-0123456789")
	receipt := "0123456789abcdef0123456789abcdef"
	requests := []struct{ name, method, url string }{
		{"export", http.MethodGet, fn.URL + "?device=van-1&format=zip"},
		{"erase", http.MethodPost, fn.URL + "?device=van-1&action=erase"},
		{"receipt", http.MethodGet, fn.URL + "?receipt=" + receipt},
	}
	callers := []struct {
		name   string
		tok    string
		status map[string]int // by request; default 403
	}{
		{"device of another device", token(t, "acme", auth.RoleDevice, "van-2"), nil},
		{"device itself", token(t, "acme", auth.RoleDevice, "van-1"), map[string]int{"export": http.StatusOK}},
		{"viewer", token(t, "acme", auth.RoleViewer, ""), nil},
		{"service", token(t, "acme", auth.RoleService, ""), nil},
		{"no token", "", map[string]int{"export": 401, "erase": 401, "receipt": 401}},
		{"expired", expired, map[string]int{"export": 401, "erase": 401, "receipt": 401}},
		{"wrong key", wrongKey, map[string]int{"export": 401, "erase": 401, "receipt": 401}},
		{"garbage", "not.a.jwt", map[string]int{"export": 401, "erase": 401, "receipt": 401}},
	}
	for _, cl := range callers {
		t.Run(cl.name, func(t *testing.T) {
			before := snapshot(t, client)
			for _, rq := range requests {
				want, ok := cl.status[rq.name]
				if !ok {
					want = http.StatusForbidden
				}
				r := call(t, rq.method, rq.url, cl.tok, nil, nil)
				if r.Status != want {
					t.Errorf("%s: %d %s, want %d", rq.name, r.Status, clipBody(r.Body), want)
				}
			}
			if cl.status["export"] == http.StatusOK {
				return // an export is audited: Redis changes by one audit entry
			}
			if snapshot(t, client) != before {
				t.Error("a refused request changed Redis")
			}
		})
	}
	t.Run("admin of another tenant", func(t *testing.T) {
		globex := token(t, "globex", auth.RoleAdmin, "")
		r := call(t, http.MethodPost, fn.URL+"?device=van-1&action=erase", globex, nil, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("globex erase: %d %s", r.Status, r.Body)
		}
		var rc struct{ ID string }
		r.JSON(t, &rc)
		if _, ok, err := store.Latest(context.Background(), "globex", "van-1"); err != nil || ok {
			t.Errorf("globex's van-1 not erased: %v %v", ok, err)
		}
		if _, ok, err := store.Latest(context.Background(), "acme", "van-1"); err != nil || !ok {
			t.Errorf("acme's van-1 touched by globex's erasure: %v %v", ok, err)
		}
		if r := call(t, http.MethodGet, fn.URL+"?receipt="+rc.ID, token(t, "acme", auth.RoleAdmin, ""), nil, nil); r.Status != http.StatusNotFound {
			t.Errorf("acme reads globex's receipt: %d, want 404", r.Status)
		}
		if r := call(t, http.MethodGet, fn.URL+"?receipt="+rc.ID, globex, nil, nil); r.Status != http.StatusOK {
			t.Errorf("globex reads its receipt: %d", r.Status)
		}
	})
}

// TestRetentionSweepLeavesNothingOlder (issue 12 §1): the archiver's pass
// ends with a retention sweep: a device's retention preference (truck:00,
// 30h), else its tenant's (80h, truck:01), bounds what survives in the hot
// store and the archive; everything newer survives.
func TestRetentionSweepLeavesNothingOlder(t *testing.T) {
	e := startArchiveEnv(t, 2)
	now := time.Now()
	fixes := archiveFixes(2, 5, 48, now)
	e.load(t, fixes, now)
	client := openRedis(t, e.redis.URL)
	prefs := redisstore.NewPreferencesStore(client, "")
	ctx := context.Background()
	if _, err := prefs.SavePreferences(ctx, "acme", "", []byte(`{"retention":"80h"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := prefs.SavePreferences(ctx, "acme", erasedDevice, []byte(`{"retention":"30h"}`)); err != nil {
		t.Fatal(err)
	}
	retention := map[string]time.Duration{erasedDevice: 30 * time.Hour, keptDevice: 80 * time.Hour}

	arch := startFunction(t, "archiver", e.env)
	before := time.Now()
	resp := call(t, http.MethodPost, arch.URL+"/", token(t, "acme", auth.RoleService, ""), hdr("Content-Type", "application/json"), []byte(`{}`))
	after := time.Now()
	var res struct {
		Objects          int `json:"objects"`
		RetentionDevices int `json:"retention_devices"`
		RetentionObjects int `json:"retention_objects"`
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("pass: %d %s", resp.Status, resp.Body)
	}
	resp.JSON(t, &res)
	if res.Objects == 0 {
		t.Fatalf("pass archived nothing: %s", resp.Body)
	}
	cold := e.readArchive(t)
	for dev, r := range retention {
		survived := map[int64]bool{}
		for _, row := range cold[dev] {
			survived[row.TS] = true
		}
		page, err := e.store.History(ctx, "acme", dev, time.Time{}, time.Time{}, 10000, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page.Fixes {
			survived[f.TS.UnixMilli()] = true
		}
		oldestAllowed := before.Add(-r).UnixMilli()
		for ts := range survived {
			if ts < oldestAllowed {
				t.Errorf("%s: a point of %s survived its retention %s", dev, time.UnixMilli(ts).UTC(), r)
			}
		}
		for _, f := range fixes[dev] {
			if f.TS.After(after.Add(-r)) && !survived[f.TS.UnixMilli()] {
				t.Errorf("%s: the point of %s, within the retention, is gone", dev, f.TS.UTC())
			}
		}
		if len(survived) == 0 || len(survived) == len(fixes[dev]) {
			t.Errorf("%s: %d of %d points survived: the sweep did not cut inside the data", dev, len(survived), len(fixes[dev]))
		}
	}
	if res.RetentionObjects == 0 || res.RetentionDevices == 0 {
		t.Errorf("the pass reports no retention work: %+v", res)
	}
}

// TestPrivacyEraseReachesTheEdge: an edge node (its own Redis) holds a
// device's fixes in its hot store, raw log and outbox, the forwarder not
// running (the cloud unreachable); the device is erased in the cloud. The
// node pulls the erasure list, purges the device and confirms (the receipt
// shows tier edge:site-1); nothing of it remains in the edge's Redis, the
// other device's data stays and, once the forwarder drains the outbox,
// reaches the cloud while nothing of the erased device does.
func TestPrivacyEraseReachesTheEdge(t *testing.T) {
	cloudRedis := testenv.StartRedis(t)
	cloud := openRedis(t, cloudRedis.URL)
	cloudEnv := map[string]string{"REDIS_URL": cloudRedis.URL}
	privacyFn := startFunction(t, "privacy", cloudEnv)
	cloudIngest := startFunction(t, "ingest", cloudEnv)
	svc := token(t, "acme", auth.RoleService, "")
	admin := token(t, "acme", auth.RoleAdmin, "")
	jsonH := hdr("Content-Type", "application/json")
	if r := call(t, http.MethodPost, cloudIngest.URL, svc, jsonH, []byte("["+fixJSON(erasedDevice, 0, 52.5, 13.4)+"]")); r.Status/100 != 2 {
		t.Fatalf("cloud ingest: %d %s", r.Status, r.Body)
	}

	edgeRedis := testenv.StartRedis(t, testenv.WithAppendOnly())
	edgeClient := openRedis(t, edgeRedis.URL)
	edgeIngest := startFunction(t, "edge-ingest", map[string]string{
		"REDIS_URL": edgeRedis.URL, "EDGE_MODE": "true", "EDGE_NODE_ID": "site-1",
		"EDGE_IDLE_AFTER": "1s", "EDGE_FLUSH_INTERVAL": "300ms",
		"PRIVACY_URL": privacyFn.URL, "PRIVACY_SYNC_INTERVAL": "200ms", "EDGE_SERVICE_TOKEN": svc,
	})
	var batch []string
	for i := range 20 {
		batch = append(batch, fixJSON(erasedDevice, i*5, 52.5+float64(i)*0.001, 13.4), fixJSON(keptDevice, i*5, 48.1+float64(i)*0.001, 11.5))
	}
	if r := call(t, http.MethodPost, edgeIngest.URL, svc, jsonH, []byte("["+strings.Join(batch, ",")+"]")); r.Status != http.StatusAccepted {
		t.Fatalf("edge ingest: %d %s", r.Status, r.Body)
	}
	testenv.Eventually(t, "the edge outbox holds both devices' fixes", 10*time.Second, func() bool {
		s := fmt.Sprint(edgeClient.XRange(context.Background(), outboxKey, "-", "+").Val())
		return strings.Contains(s, erasedDevice) && strings.Contains(s, keptDevice)
	})
	for _, where := range []string{"raw", "outbox"} {
		if s := fmt.Sprint(edgeClient.XRange(context.Background(), "gt:{edge}:"+where, "-", "+").Val()); !strings.Contains(s, erasedDevice) {
			t.Fatalf("the edge %s holds nothing of the device before the erasure", where)
		}
	}

	r := call(t, http.MethodPost, privacyFn.URL+"?action=erase&device="+url.QueryEscape(erasedDevice), admin, nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("erase: %d %s", r.Status, r.Body)
	}
	var receipt struct{ ID string }
	r.JSON(t, &receipt)
	var edgeTier struct {
		State   string
		Removed map[string]int
	}
	testenv.Eventually(t, "the edge confirms the erasure", 15*time.Second, func() bool {
		var got struct {
			Tiers map[string]json.RawMessage
		}
		call(t, http.MethodGet, privacyFn.URL+"?receipt="+receipt.ID, admin, nil, nil).JSON(t, &got)
		raw, ok := got.Tiers["edge:site-1"]
		return ok && json.Unmarshal(raw, &edgeTier) == nil
	})
	if edgeTier.State != "done" || edgeTier.Removed["stream:outbox"] == 0 || edgeTier.Removed["stream:raw"] == 0 {
		t.Errorf("edge tier of the receipt: %+v", edgeTier)
	}
	if left := redisMentions(t, edgeClient, erasedDevice); len(left) > 0 {
		t.Errorf("the edge's Redis still names the device: %q", left)
	}
	if s := fmt.Sprint(edgeClient.XRange(context.Background(), outboxKey, "-", "+").Val()); !strings.Contains(s, keptDevice) {
		t.Error("the other device's outbox entries went with the erasure")
	}

	// The outbox drains to the cloud: the other device arrives, nothing of
	// the erased one does.
	startFunction(t, "forwarder", map[string]string{
		"REDIS_URL": edgeRedis.URL, "EDGE_NODE_ID": "site-1", "CLOUD_INGEST_URL": cloudIngest.URL,
		"EDGE_SERVICE_TOKEN": svc, "FORWARD_INTERVAL": "200ms",
	})
	cloudStore := redisstore.New(cloud, redisstore.Options{})
	testenv.Eventually(t, "the other device reaches the cloud", 15*time.Second, func() bool {
		_, ok, _ := cloudStore.Latest(context.Background(), "acme", keptDevice)
		return ok && edgeClient.XLen(context.Background(), outboxKey).Val() == 0
	})
	if left := redisMentions(t, cloud, erasedDevice); len(left) > 0 {
		t.Errorf("the cloud names the erased device after the outbox drained: %q", left)
	}
}
