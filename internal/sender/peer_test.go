package sender

import (
	"encoding/json"
	"fmt"
	"github.com/geotrack/geotrack/internal/eventtype"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/geotrack/geotrack/internal/fix"
)

// peer is a real HTTP server that decodes what the sender posts with the
// CloudEvents SDK and answers like ingest does: it is the other end of the
// wire, not a stand-in for a store.
type peer struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	requests  int
	events    int
	seen      map[string]bool // source+id
	fixes     map[string]fix.Fix
	modes     map[string]int
	failFirst int    // answer the first n requests with failStatus
	failWith  int    // status for failFirst
	deny      string // when set, answer 401 with this message
	maxBody   int    // answer 413 above this many bytes (0 = no limit)
}

func newPeer(t *testing.T) *peer {
	p := &peer{t: t, seen: map[string]bool{}, fixes: map[string]fix.Fix{}, modes: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *peer) reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		p.t.Errorf("peer: write reply: %v", err)
	}
}

type rejection struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

type reply struct {
	Accepted   int         `json:"accepted"`
	Duplicates int         `json:"duplicates"`
	Rejected   []rejection `json:"rejected"`
}

func (p *peer) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	if p.requests <= p.failFirst {
		if p.failWith == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		p.reply(w, p.failWith, map[string]string{"error": "try again"})
		return
	}
	if p.deny != "" {
		p.reply(w, http.StatusUnauthorized, map[string]string{"error": p.deny})
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer tok" {
		p.reply(w, http.StatusUnauthorized, map[string]string{"error": "bad authorization " + got})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		p.reply(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if p.maxBody > 0 && len(body) > p.maxBody {
		p.reply(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body too large"})
		return
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))

	var evs []event.Event
	mode := "binary"
	if strings.HasPrefix(r.Header.Get("Content-Type"), contentBatch) {
		mode = "batch"
		evs, err = cehttp.NewEventsFromHTTPRequest(r)
	} else {
		if strings.HasPrefix(r.Header.Get("Content-Type"), contentStructured) {
			mode = "structured"
		}
		var e *event.Event
		e, err = cehttp.NewEventFromHTTPRequest(r)
		if e != nil {
			evs = []event.Event{*e}
		}
	}
	if err != nil {
		p.reply(w, http.StatusBadRequest, map[string]string{"error": "sdk-go: " + err.Error()})
		return
	}
	p.modes[mode]++
	var rep reply
	rep.Rejected = []rejection{}
	index := 0
	for _, e := range evs {
		p.events++
		if err := e.Validate(); err != nil {
			p.reply(w, http.StatusBadRequest, map[string]string{"error": "invalid event: " + err.Error()})
			return
		}
		if e.Type() != eventtype.LocationReported {
			p.reply(w, http.StatusBadRequest, map[string]string{"error": "type " + e.Type()})
			return
		}
		items, err := fix.SplitBatch(e.Data())
		if err != nil {
			p.reply(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		dup := p.seen[e.Source()+"\x1f"+e.ID()]
		for _, raw := range items {
			f, err := fix.Decode(raw, e.Subject())
			if err == nil {
				err = fix.Validate(&f, time.Now())
			}
			switch {
			case err != nil:
				rep.Rejected = append(rep.Rejected, rejection{Index: index, Error: err.Error()})
			case dup:
				rep.Duplicates++
			default:
				rep.Accepted++
				p.fixes[f.Device+"@"+fix.FormatTime(f.TS)] = f
			}
			index++
		}
		p.seen[e.Source()+"\x1f"+e.ID()] = true
	}
	status := http.StatusAccepted
	if rep.Accepted == 0 && rep.Duplicates == 0 && len(rep.Rejected) > 0 {
		status = http.StatusBadRequest
	}
	p.reply(w, status, rep)
}

func (p *peer) stats() (requests, events int, fixes map[string]fix.Fix) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]fix.Fix, len(p.fixes))
	for k, v := range p.fixes {
		out[k] = v
	}
	return p.requests, p.events, out
}

// testFixes returns n valid fixes over a few devices, at whole milliseconds
// so that they survive the wire format unchanged.
func testFixes(n int) []fix.Fix {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	out := make([]fix.Fix, n)
	for i := range out {
		out[i] = fix.Fix{
			Device:  fmt.Sprintf("dev-%d", i%7),
			TS:      base.Add(time.Duration(i) * 1500 * time.Millisecond),
			Lat:     51.5 + float64(i)*1e-5,
			Lon:     -0.12 - float64(i)*1e-5,
			Acc:     fix.Float(3.5),
			Speed:   fix.Float(float64(i % 20)),
			Heading: fix.Float(float64(i % 360)),
			Battery: fix.Float(0.5),
		}
		if i%3 == 0 {
			out[i].Alt = fix.Float(12.25)
			out[i].Attrs = map[string]string{"trip": "t<1>", "näme": "x"}
		}
	}
	return out
}
