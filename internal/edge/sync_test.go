package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/geofence"
)

// syncCloud serves GET geofences?since= and GET rules?all=true from a change
// log and a rule set the test edits.
type syncCloud struct {
	mu      sync.Mutex
	version int64
	changed map[string]int64  // fence id -> version of its last change
	fences  map[string]string // live fences: id -> Feature JSON
	rules   []alert.Rule
	down    bool
	asked   []string
}

func (c *syncCloud) put(id, name string) {
	c.version++
	c.changed[id] = c.version
	c.fences[id] = fmt.Sprintf(`{"type":"Feature","id":%q,"properties":{"name":%q}}`, id, name)
}

func (c *syncCloud) del(id string) {
	c.version++
	c.changed[id] = c.version
	delete(c.fences, id)
}

func (c *syncCloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, r.URL.Path+"?"+r.URL.RawQuery)
	if c.down || r.Header.Get("Authorization") != "Bearer edge-token" {
		http.Error(w, "no", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case "/geofences":
		since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		type change struct {
			ID      string          `json:"id"`
			Feature json.RawMessage `json:"feature"`
		}
		out := struct {
			Tenant  string   `json:"tenant"`
			Version int64    `json:"version"`
			Changes []change `json:"changes"`
		}{Tenant: "acme", Version: c.version, Changes: []change{}}
		for id, v := range c.changed {
			f, live := c.fences[id]
			if since == 0 && live || since > 0 && v > since {
				ch := change{ID: id, Feature: json.RawMessage("null")}
				if live {
					ch.Feature = json.RawMessage(f)
				}
				out.Changes = append(out.Changes, ch)
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	case "/rules":
		body, _ := json.Marshal(map[string]any{"tenant": "acme", "rules": c.rules})
		etag := fmt.Sprintf(`"%x"`, len(body)*31+int(body[len(body)/2]))
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write(body)
	default:
		http.NotFound(w, r)
	}
}

// memFences is the edge's fence store in memory.
type memFences struct{ m map[string]string }

func (f *memFences) PutFences(_ context.Context, tenant string, fs []geofence.Stored, _ int) error {
	for _, s := range fs {
		f.m[tenant+"/"+s.ID] = string(s.Feature)
	}
	return nil
}
func (f *memFences) GetFence(_ context.Context, tenant, id string) ([]byte, bool, error) {
	v, ok := f.m[tenant+"/"+id]
	return []byte(v), ok, nil
}
func (f *memFences) ListFences(_ context.Context, tenant, cursor string, limit int) ([][]byte, string, error) {
	var out [][]byte
	for k, v := range f.m {
		if len(k) > len(tenant) && k[:len(tenant)+1] == tenant+"/" {
			out = append(out, []byte(v))
		}
	}
	return out, "", nil
}
func (f *memFences) DeleteFence(_ context.Context, tenant, id string) (bool, error) {
	_, ok := f.m[tenant+"/"+id]
	delete(f.m, tenant+"/"+id)
	return ok, nil
}

// memRules is the edge's rule store in memory; puts counts writes.
type memRules struct {
	m    map[string]alert.Rule
	puts []string
}

func (r *memRules) PutRule(_ context.Context, _ string, rule alert.Rule) error {
	r.m[rule.ID] = rule
	r.puts = append(r.puts, rule.ID)
	return nil
}
func (r *memRules) Rule(_ context.Context, _, id string) (alert.Rule, error) { return r.m[id], nil }
func (r *memRules) ListRules(context.Context, string) ([]alert.Rule, error) {
	var out []alert.Rule
	for _, v := range r.m {
		out = append(out, v)
	}
	return out, nil
}
func (r *memRules) DeleteRule(_ context.Context, _, id string) error {
	delete(r.m, id)
	return nil
}

type memMark struct {
	m  SyncMark
	ok bool
}

func (m *memMark) LoadMark(context.Context) (SyncMark, bool, error) { return m.m, m.ok, nil }
func (m *memMark) SaveMark(_ context.Context, s SyncMark) error     { m.m, m.ok = s, true; return nil }

func fenceNames(f *memFences) []string {
	var out []string
	for k, v := range f.m {
		var p struct{ Properties struct{ Name string } }
		_ = json.Unmarshal([]byte(v), &p)
		out = append(out, k+"="+p.Properties.Name)
	}
	slices.Sort(out)
	return out
}

// TestAlertSync: the first pass takes every fence (and drops what the edge
// had beyond them) and the rules; later passes take only the fences changed
// since the mark and rewrite only the rules that changed; an unreachable
// cloud keeps the copy; a restarted node resumes from the persisted mark;
// a cloud whose version went back is taken whole again.
func TestAlertSync(t *testing.T) {
	ctx := context.Background()
	cloud := &syncCloud{changed: map[string]int64{}, fences: map[string]string{}}
	cloud.put("yard", "Yard")
	cloud.put("depot", "Depot")
	cloud.put("old", "Old")
	cloud.del("old")
	hook := alert.Webhook{URL: "https://h.example.com/", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	cloud.rules = []alert.Rule{{ID: "r1", Name: "in", On: []string{alert.TypeGeofenceEntered}, Webhook: hook},
		{ID: "r2", Name: "out", On: []string{alert.TypeGeofenceExited}, Webhook: hook}}
	srv := httptest.NewServer(cloud)
	defer srv.Close()

	fences := &memFences{m: map[string]string{"acme/stale": `{"id":"stale","properties":{"name":"Stale"}}`}}
	rules := &memRules{m: map[string]alert.Rule{"gone": {ID: "gone"}}}
	mark := &memMark{}
	newSync := func() *AlertSync {
		return &AlertSync{FencesURL: srv.URL + "/geofences", RulesURL: srv.URL + "/rules", Token: "edge-token",
			Mark: mark, Fences: fences, Rules: rules}
	}
	s := newSync()
	step := func(name string, wantChanged bool, wantFences []string, wantPuts []string) {
		t.Helper()
		rules.puts = nil
		changed, err := s.SyncOnce(ctx)
		if err != nil || changed != wantChanged {
			t.Fatalf("%s: changed %v err %v, want %v", name, changed, err, wantChanged)
		}
		if got := fenceNames(fences); !slices.Equal(got, wantFences) {
			t.Errorf("%s: fences %v, want %v", name, got, wantFences)
		}
		slices.Sort(rules.puts)
		if !slices.Equal(rules.puts, wantPuts) {
			t.Errorf("%s: rules written %v, want %v", name, rules.puts, wantPuts)
		}
	}
	step("first", true, []string{"acme/depot=Depot", "acme/yard=Yard"}, []string{"r1", "r2"})
	if _, ok := rules.m["gone"]; ok || rules.m["r1"].Webhook.Secret != hook.Secret {
		t.Errorf("rules after the first pass: %+v", rules.m)
	}
	if mark.m.Tenant != "acme" || mark.m.FenceVersion != 4 || mark.m.RulesETag == "" {
		t.Errorf("mark %+v", mark.m)
	}
	step("nothing changed", false, []string{"acme/depot=Depot", "acme/yard=Yard"}, nil)

	cloud.mu.Lock()
	cloud.put("yard", "Yard 2")
	cloud.del("depot")
	cloud.rules[1].Name = "out 2"
	cloud.mu.Unlock()
	step("a change of each", true, []string{"acme/yard=Yard 2"}, []string{"r2"})
	if q := cloud.asked[len(cloud.asked)-2]; q != "/geofences?since=4" {
		t.Errorf("asked %s, want only the changes since 4", q)
	}

	cloud.mu.Lock()
	cloud.down = true
	cloud.mu.Unlock()
	if _, err := s.SyncOnce(ctx); err == nil {
		t.Fatal("cloud down: no error")
	}
	if got := fenceNames(fences); len(got) != 1 || len(rules.m) != 2 {
		t.Errorf("cloud down: the copy changed: %v %v", got, rules.m)
	}

	// A restarted node resumes from the persisted mark.
	cloud.mu.Lock()
	cloud.down = false
	cloud.put("gate", "Gate")
	cloud.mu.Unlock()
	s = newSync()
	if err := s.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	step("restarted", true, []string{"acme/gate=Gate", "acme/yard=Yard 2"}, nil)
	if q := cloud.asked[len(cloud.asked)-2]; q != "/geofences?since=6" {
		t.Errorf("restarted: asked %s, want since the mark", q)
	}

	// The cloud lost its fences (version back to 1): everything again.
	cloud.mu.Lock()
	cloud.version, cloud.changed, cloud.fences = 0, map[string]int64{}, map[string]string{}
	cloud.put("new", "New")
	cloud.mu.Unlock()
	step("cloud reset", true, []string{"acme/new=New"}, nil)
	if mark.m.FenceVersion != 1 {
		t.Errorf("mark after the reset: %+v", mark.m)
	}
}
