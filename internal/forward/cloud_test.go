package forward

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"github.com/geotrack/geotrack/internal/eventtype"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

// cloud is a loopback stand-in for the cloud's ingest function: it checks
// the event like ingest does, deduplicates by event source+id and by
// device+ts, and can be told to fail. It is the peer under test's traffic,
// not a mock of Redis.
type cloud struct {
	t      testing.TB
	srv    *httptest.Server
	token  string
	policy func(n int, ev *received) action // n counts requests from 0; nil = accept

	mu       sync.Mutex
	requests []*received
	seenIDs  map[string]bool
	stored   map[string]fix.Fix // device@ts → fix
	dupByID  int
	dupByKey int

	inflight    atomic.Int32
	maxInflight atomic.Int32
}

// received is one request as the cloud saw it.
type received struct {
	Gzipped       bool
	ContentType   string
	Authorization string
	Traceparent   string
	Event         map[string]any
	ID            string
	Tenant        string
	Fixes         []fix.Fix
}

// action tells the cloud how to answer one request.
type action struct {
	status  int               // 0 = 200
	body    string            // response body
	header  map[string]string // response headers
	store   bool              // store (dedup) the fixes before answering
	block   chan struct{}     // wait for this (or the client going away) before answering
	drop    bool              // close the connection instead of answering
	arrived chan struct{}     // closed when the request has been received (and stored)
}

func accept() action { return action{store: true} }

func newCloud(t testing.TB, policy func(n int, ev *received) action) *cloud {
	c := &cloud{t: t, token: "svc-token", policy: policy, seenIDs: map[string]bool{}, stored: map[string]fix.Fix{}}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *cloud) serve(w http.ResponseWriter, r *http.Request) {
	n := c.inflight.Add(1)
	defer c.inflight.Add(-1)
	for {
		m := c.maxInflight.Load()
		if n <= m || c.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	ev, status, msg := c.parse(r)
	if status != 0 {
		http.Error(w, msg, status)
		return
	}
	c.mu.Lock()
	idx := len(c.requests)
	c.requests = append(c.requests, ev)
	c.mu.Unlock()

	act := accept()
	if c.policy != nil {
		act = c.policy(idx, ev)
	}
	if act.store {
		c.store(ev)
	}
	if act.arrived != nil {
		close(act.arrived)
	}
	if act.block != nil {
		select {
		case <-act.block:
		case <-r.Context().Done():
			return
		}
	}
	if act.drop {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			c.t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
		return
	}
	for k, v := range act.header {
		w.Header().Set(k, v)
	}
	if act.status == 0 {
		act.status = http.StatusOK
	}
	w.WriteHeader(act.status)
	io.WriteString(w, act.body)
}

// parse checks the request like the cloud ingest would and decodes it.
func (c *cloud) parse(r *http.Request) (*received, int, string) {
	ev := &received{
		ContentType:   r.Header.Get("Content-Type"),
		Authorization: r.Header.Get("Authorization"),
		Traceparent:   r.Header.Get("traceparent"),
	}
	if r.Method != http.MethodPost {
		return nil, http.StatusMethodNotAllowed, "POST only"
	}
	if ev.Authorization != "Bearer "+c.token {
		return nil, http.StatusUnauthorized, "bad token"
	}
	if ev.ContentType != ContentType {
		return nil, http.StatusUnsupportedMediaType, "want structured CloudEvents"
	}
	var in io.Reader = r.Body
	switch r.Header.Get("Content-Encoding") {
	case "":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, http.StatusBadRequest, "gzip: " + err.Error()
		}
		in = zr
		ev.Gzipped = true
	default:
		return nil, http.StatusUnsupportedMediaType, "content-encoding"
	}
	body, err := io.ReadAll(in)
	if err != nil {
		return nil, http.StatusBadRequest, err.Error()
	}
	if err := json.Unmarshal(body, &ev.Event); err != nil {
		return nil, http.StatusBadRequest, "event: " + err.Error()
	}
	for attr, want := range map[string]string{"specversion": "1.0", "type": eventtype.LocationReported, "datacontenttype": "application/json"} {
		if ev.Event[attr] != want {
			return nil, http.StatusBadRequest, fmt.Sprintf("%s = %v, want %s", attr, ev.Event[attr], want)
		}
	}
	ev.ID, _ = ev.Event["id"].(string)
	source, _ := ev.Event["source"].(string)
	ev.Tenant, _ = ev.Event["tenant"].(string)
	if ev.ID == "" || !strings.HasPrefix(source, "urn:geotrack:edge:") {
		return nil, http.StatusBadRequest, "id and source required"
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(ev.Event["time"])); err != nil {
		return nil, http.StatusBadRequest, "time: " + err.Error()
	}
	data, _ := json.Marshal(ev.Event["data"])
	items, err := fix.SplitBatch(data)
	if err != nil {
		return nil, http.StatusBadRequest, err.Error()
	}
	subject, _ := ev.Event["subject"].(string)
	for i, raw := range items {
		f, err := fix.Decode(raw, subject)
		if err == nil {
			err = fix.Validate(&f, time.Now())
		}
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Sprintf("fix %d: %v", i, err)
		}
		ev.Fixes = append(ev.Fixes, f)
	}
	return ev, 0, ""
}

// store keeps ev's fixes once per event id and once per device+ts.
func (c *cloud) store(ev *received) {
	c.mu.Lock()
	defer c.mu.Unlock()
	source := fmt.Sprint(ev.Event["source"])
	if c.seenIDs[source+" "+ev.ID] {
		c.dupByID++
		return
	}
	c.seenIDs[source+" "+ev.ID] = true
	for _, f := range ev.Fixes {
		k := key(f)
		if _, ok := c.stored[k]; ok {
			c.dupByKey++
			continue
		}
		c.stored[k] = f
	}
}

func (c *cloud) storedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.stored)
}

func (c *cloud) received() []*received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*received(nil), c.requests...)
}

// fixesReceived counts fixes in every request, duplicates included.
func (c *cloud) fixesReceived() int {
	n := 0
	for _, r := range c.received() {
		n += len(r.Fixes)
	}
	return n
}

// requireStoredExactly checks the cloud holds exactly want, each once.
func (c *cloud) requireStoredExactly(t testing.TB, want []fix.Fix) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.stored) != len(want) {
		t.Errorf("cloud stored %d fixes, want %d", len(c.stored), len(want))
	}
	for _, f := range want {
		got, ok := c.stored[key(f)]
		if !ok {
			t.Errorf("fix %s lost", key(f))
			continue
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(f)
		if string(a) != string(b) {
			t.Errorf("fix %s stored as %s, want %s", key(f), a, b)
		}
	}
}
