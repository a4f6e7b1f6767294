package privacy

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/audit"
	"github.com/geotrack/geotrack/internal/eventlog"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geofence"
	"github.com/geotrack/geotrack/internal/locate"
	"github.com/geotrack/geotrack/internal/preferences"
)

// fakes of the stores, one tenant.

type fakeHistory struct{ fixes []fix.Fix } // sorted by ts

func (h *fakeHistory) History(_ context.Context, _, device string, from, to time.Time, limit int, cursor string) (locate.Page, error) {
	var match []fix.Fix
	for _, f := range h.fixes {
		if f.Device == device && (from.IsZero() || !f.TS.Before(from)) && (to.IsZero() || !f.TS.After(to)) {
			match = append(match, f)
		}
	}
	start := 0
	if cursor != "" {
		json.Unmarshal([]byte(cursor), &start)
	}
	end := min(start+limit, len(match))
	page := locate.Page{Fixes: match[start:end]}
	if end < len(match) {
		b, _ := json.Marshal(end)
		page.Next = string(b)
	}
	return page, nil
}

type fakeArchive struct {
	days   map[time.Time][]fix.Fix
	erased []string
}

func (a *fakeArchive) EachDay(_ context.Context, _, device string, fn func(time.Time, []fix.Fix) error) error {
	for d := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC); d.Before(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)); d = d.Add(24 * time.Hour) {
		if fixes, ok := a.days[d]; ok {
			if err := fn(d, fixes); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *fakeArchive) EraseDevice(_ context.Context, _, device string) (int, error) {
	a.erased = append(a.erased, device)
	return len(a.days), nil
}

type fakeStores struct {
	fences map[string][]byte
	put    []geofence.Stored
	del    []string
}

func (s *fakeStores) ReadEvents(_ context.Context, _ string, q eventlog.Query) (eventlog.Page, error) {
	return eventlog.Page{Events: []json.RawMessage{json.RawMessage(`{"subject": "` + q.Device + `"}`)}}, nil
}
func (s *fakeStores) ListAlerts(_ context.Context, _ string, q alert.Query) (alert.Page, error) {
	if q.Dead {
		return alert.Page{}, nil
	}
	return alert.Page{Alerts: []alert.Record{{ID: "a1", Device: q.Device, State: "delivered"}}}, nil
}
func (s *fakeStores) LoadPreferences(context.Context, string) (preferences.Set, error) {
	return preferences.Set{Devices: map[string]preferences.Document{"d1": {Retention: "24h"}}}, nil
}
func (s *fakeStores) ListFences(_ context.Context, _, cursor string, _ int) ([][]byte, string, error) {
	var out [][]byte
	for _, id := range []string{"both", "only", "other"} {
		if f, ok := s.fences[id]; ok {
			out = append(out, f)
		}
	}
	return out, "", nil
}
func (s *fakeStores) PutFences(_ context.Context, _ string, fences []geofence.Stored, _ int) error {
	s.put = append(s.put, fences...)
	return nil
}
func (s *fakeStores) DeleteFence(_ context.Context, _, id string) (bool, error) {
	s.del = append(s.del, id)
	return true, nil
}
func (s *fakeStores) ReadAudit(context.Context, string, time.Time, time.Time, string, int) ([]audit.Entry, string, error) {
	return []audit.Entry{
		{Action: audit.ActionHistoryRead, Target: map[string]string{"device": "d1"}},
		{Action: audit.ActionHistoryRead, Target: map[string]string{"device": "d2"}},
		{Action: audit.ActionPrivacyExport, Device: "d1"},
	}, "", nil
}

func fence(id string, devices ...string) []byte {
	b, _ := json.Marshal(map[string]any{"type": "Feature", "id": id, "geometry": map[string]any{"type": "Point", "coordinates": []float64{13.4, 52.5}},
		"properties": map[string]any{"name": id, "radius_m": 50, "devices": devices}})
	return b
}

func newTestService(hot []fix.Fix, days map[time.Time][]fix.Fix) (*Service, *fakeStores, *fakeArchive) {
	st := &fakeStores{fences: map[string][]byte{"both": fence("both", "d1", "d2"), "only": fence("only", "d1"), "other": fence("other", "d2")}}
	ar := &fakeArchive{days: days}
	return &Service{History: &fakeHistory{fixes: hot}, Archive: ar, Events: st, Alerts: st, Preferences: st, Fences: st, Audit: st,
		Now: func() time.Time { return time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) }}, st, ar
}

func at(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, time.UTC) }

func TestExportTakesEachFixOnceAcrossTiers(t *testing.T) {
	day := at(27, 0)
	archived := []fix.Fix{{Device: "d1", TS: at(27, 1), Lat: 1, Lon: 1}, {Device: "d1", TS: at(27, 2), Lat: 2, Lon: 2}}
	// Hot still holds 02:00 (written to the archive, not yet trimmed: hot
	// wins) and newer points; pages of 1000 are crossed.
	hot := []fix.Fix{{Device: "d1", TS: at(27, 2), Lat: 9, Lon: 9}}
	for i := range 2500 {
		hot = append(hot, fix.Fix{Device: "d1", TS: at(28, 0).Add(time.Duration(i) * time.Second), Lat: 3, Lon: 3})
	}
	hot = append(hot, fix.Fix{Device: "d2", TS: at(28, 5), Lat: 5, Lon: 5})
	svc, _, _ := newTestService(hot, map[time.Time][]fix.Fix{day: archived})
	var buf bytes.Buffer
	m, err := svc.Export(context.Background(), &buf, "acme", "d1")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(b)
	}
	want := 1 + 1 + 2500 // archived 01:00, hot's 02:00, the rest
	counts := map[string]int{}
	for _, f := range m.Files {
		counts[f.Name] = f.Count
	}
	for name, n := range map[string]int{FileFixesJSONL: want, FileFixesGPX: want, FileFixesGeoJSON: want, FileEvents: 1, FileAlerts: 1, FilePreferences: 1, FileFences: 2, FileAudit: 2} {
		if counts[name] != n {
			t.Errorf("%s: count %d, want %d", name, counts[name], n)
		}
	}
	if got := strings.Count(files[FileFixesJSONL], "\n"); got != want {
		t.Errorf("fixes.jsonl has %d lines, want %d", got, want)
	}
	if strings.Contains(files[FileFixesJSONL], `"lat":2,`) || !strings.Contains(files[FileFixesJSONL], `"lat":9,`) {
		t.Error("the ts in both tiers was not taken once, from hot")
	}
	if strings.Count(files[FileFixesGPX], "<trkpt ") != want {
		t.Error("gpx point count")
	}
	var fc struct{ Features []json.RawMessage }
	if err := json.Unmarshal([]byte(files[FileFixesGeoJSON]), &fc); err != nil || len(fc.Features) != want {
		t.Errorf("geojson: %d features, %v", len(fc.Features), err)
	}
	if strings.Contains(files[FileFixesJSONL], `"d2"`) || strings.Contains(files[FileAudit], `"d2"`) {
		t.Error("the other device's data is in the export")
	}
	if _, ok := files[FileManifest]; !ok {
		t.Error("no manifest")
	}
}

func TestEraseFencesAndArchive(t *testing.T) {
	svc, st, ar := newTestService(nil, map[time.Time][]fix.Fix{at(27, 0): nil})
	cloud := &fakeCloud{receipts: map[string][]byte{}}
	rules := &fakeRules{rules: []alert.Rule{{ID: "both", Devices: []string{"d1", "d2"}}, {ID: "only", Devices: []string{"d1"}}, {ID: "all"}}}
	svc.Cloud, svc.Settle, svc.Rules = cloud, time.Millisecond, rules
	r, err := svc.Erase(context.Background(), "acme", "d1")
	if err != nil {
		t.Fatal(err)
	}
	if r.State != StateDone || r.DeviceSHA256 != DeviceDigest("acme", "d1") || strings.Contains(string(cloud.receipts[r.ID]), `"d1"`) {
		t.Errorf("receipt %+v / stored %s", r, cloud.receipts[r.ID])
	}
	if cloud.erasures != 2 || len(ar.erased) != 2 {
		t.Errorf("passes: cloud %d, archive %d, want 2 each", cloud.erasures, len(ar.erased))
	}
	if !cloud.tombstone.Equal(svc.Now()) {
		t.Errorf("tombstone at %v", cloud.tombstone)
	}
	// "both" is rewritten without d1; "only" (d1 alone) is deleted: an
	// empty list would mean every device.
	if len(st.put) == 0 || st.put[0].ID != "both" || strings.Contains(string(st.put[0].Feature), `"d1"`) || !strings.Contains(string(st.put[0].Feature), `"d2"`) {
		t.Errorf("rewritten %+v", st.put)
	}
	if len(st.del) == 0 || st.del[0] != "only" {
		t.Errorf("deleted %v", st.del)
	}
	if len(rules.put) == 0 || rules.put[0].ID != "both" || len(rules.put[0].Devices) != 1 || rules.put[0].Devices[0] != "d2" || len(rules.del) == 0 || rules.del[0] != "only" {
		t.Errorf("rules: put %+v, deleted %v; want both without d1, only deleted, all untouched", rules.put, rules.del)
	}
	if got, ok, err := svc.Receipt(context.Background(), "acme", r.ID); err != nil || !ok || got.State != StateDone || got.Tiers[TierArchive].Removed["objects"] != 2 {
		t.Errorf("receipt read back: %+v %v %v", got, ok, err)
	}
}

type fakeRules struct {
	rules []alert.Rule
	put   []alert.Rule
	del   []string
}

func (f *fakeRules) Rules(context.Context, string) ([]alert.Rule, error) {
	out := make([]alert.Rule, len(f.rules))
	for i, r := range f.rules {
		r.Devices = append([]string(nil), r.Devices...)
		out[i] = r
	}
	return out, nil
}
func (f *fakeRules) PutRule(_ context.Context, _ string, r alert.Rule) error {
	f.put = append(f.put, r)
	return nil
}
func (f *fakeRules) DeleteRule(_ context.Context, _, id string) error {
	f.del = append(f.del, id)
	return nil
}

type fakeCloud struct {
	erasures  int
	tombstone time.Time
	receipts  map[string][]byte
}

func (c *fakeCloud) EraseDevice(context.Context, string, string) (map[string]int, error) {
	c.erasures++
	return map[string]int{"h": 1}, nil
}
func (c *fakeCloud) PutTombstone(_ context.Context, _, _ string, at time.Time, _ string) error {
	c.tombstone = at
	return nil
}
func (c *fakeCloud) Erasures(context.Context, string) ([]Erasure, error) { return nil, nil }
func (c *fakeCloud) ConfirmEdge(context.Context, string, string, string, []byte) error {
	return nil
}
func (c *fakeCloud) EdgeConfirmations(context.Context, string, string) (map[string][]byte, error) {
	return nil, nil
}
func (c *fakeCloud) SaveReceipt(_ context.Context, _, id string, raw []byte) error {
	c.receipts[id] = raw
	return nil
}
func (c *fakeCloud) LoadReceipt(_ context.Context, _, id string) ([]byte, bool, error) {
	raw, ok := c.receipts[id]
	return raw, ok, nil
}

type stones map[string]time.Time

func (s stones) Tombstones(context.Context, string) (map[string]time.Time, error) { return s, nil }

type passAll struct{ calls int }

func (p *passAll) Gate(context.Context, string, fix.Fix) (string, error) { p.calls++; return "", nil }

func TestErasureGate(t *testing.T) {
	erasedAt := at(29, 12)
	next := &passAll{}
	g := &ErasureGate{Next: next, Tombstones: stones{DeviceDigest("acme", "d1"): erasedAt}}
	for _, tc := range []struct {
		name   string
		tenant string
		f      fix.Fix
		want   string
	}{
		{"older fix of the erased device", "acme", fix.Fix{Device: "d1", TS: erasedAt.Add(-time.Hour)}, ReasonErased},
		{"newer fix starts a new history", "acme", fix.Fix{Device: "d1", TS: erasedAt.Add(time.Second)}, ""},
		{"the same id in another tenant", "globex", fix.Fix{Device: "d1", TS: erasedAt.Add(-time.Hour)}, ""},
		{"another device", "acme", fix.Fix{Device: "d2", TS: erasedAt.Add(-time.Hour)}, ""},
	} {
		got, err := g.Gate(context.Background(), tc.tenant, tc.f)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q %v, want %q", tc.name, got, err, tc.want)
		}
	}
	if next.calls != 3 {
		t.Errorf("next gate asked %d times, want 3 (not for a dropped fix)", next.calls)
	}
}
