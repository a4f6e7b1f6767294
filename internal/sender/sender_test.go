package sender

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
)

func TestSendDeliversEveryFixInEachMode(t *testing.T) {
	cases := []struct {
		mode         Mode
		batch, conc  int
		n            int
		wantRequests int
		wantEvents   int
	}{
		{ModeBatch, 100, 1, 250, 3, 250},
		{ModeBatch, 0, 4, 1200, 3, 1200}, // default batch size 500
		{ModeStructured, 100, 2, 250, 3, 3},
		{ModeBinary, 100, 3, 250, 3, 3},
		{ModeBinary, 1, 8, 40, 40, 40},
		{ModeStructured, 1, 1, 5, 5, 5},
	}
	for _, c := range cases {
		t.Run(string(c.mode), func(t *testing.T) {
			p := newPeer(t)
			fixes := testFixes(c.n)
			s := &Sender{URL: p.srv.URL, Token: "tok", Mode: c.mode, BatchSize: c.batch, Concurrency: c.conc}
			var calls, last int
			tot, err := s.Send(context.Background(), fixes, func(sent, total int) {
				calls++
				if sent <= last || total != c.n {
					t.Errorf("progress(%d, %d) after %d", sent, total, last)
				}
				last = sent
			})
			if err != nil {
				t.Fatal(err)
			}
			if tot.Accepted != c.n || tot.Duplicates != 0 || tot.Rejected != 0 {
				t.Fatalf("totals %+v, want %d accepted", tot, c.n)
			}
			if last != c.n || calls != c.wantRequests {
				t.Errorf("progress ended at %d after %d calls, want %d after %d", last, calls, c.n, c.wantRequests)
			}
			reqs, evs, got := p.stats()
			if reqs != c.wantRequests || evs != c.wantEvents {
				t.Errorf("peer saw %d requests / %d events, want %d / %d", reqs, evs, c.wantRequests, c.wantEvents)
			}
			if len(got) != c.n {
				t.Fatalf("peer stored %d fixes, want %d", len(got), c.n)
			}
			for _, f := range fixes {
				g, ok := got[f.Device+"@"+fix.FormatTime(f.TS)]
				if !ok {
					t.Fatalf("fix %s@%s not delivered", f.Device, fix.FormatTime(f.TS))
				}
				if !reflect.DeepEqual(g, f) {
					t.Fatalf("delivered %+v, sent %+v", g, f)
				}
			}
		})
	}
}

func TestResendIsDeduplicated(t *testing.T) {
	for _, mode := range []Mode{ModeBatch, ModeStructured, ModeBinary} {
		t.Run(string(mode), func(t *testing.T) {
			p := newPeer(t)
			fixes := testFixes(120)
			s := &Sender{URL: p.srv.URL, Token: "tok", Mode: mode, BatchSize: 50}
			if _, err := s.Send(context.Background(), fixes, nil); err != nil {
				t.Fatal(err)
			}
			tot, err := s.Send(context.Background(), fixes, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tot.Accepted != 0 || tot.Duplicates != 120 {
				t.Fatalf("resend totals %+v, want 120 duplicates", tot)
			}
			// Another source is another producer: its events are new.
			other := &Sender{URL: p.srv.URL, Token: "tok", Mode: mode, BatchSize: 50, Source: "urn:other"}
			tot, err = other.Send(context.Background(), fixes, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tot.Accepted != 120 {
				t.Fatalf("other source totals %+v, want 120 accepted", tot)
			}
		})
	}
}

func TestRetriesTransientFailures(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusTooManyRequests} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			p := newPeer(t)
			p.failFirst, p.failWith = 2, status
			s := &Sender{URL: p.srv.URL, Token: "tok", BatchSize: 10, Backoff: time.Millisecond}
			tot, err := s.Send(context.Background(), testFixes(10), nil)
			if err != nil {
				t.Fatal(err)
			}
			reqs, _, _ := p.stats()
			if tot.Accepted != 10 || reqs != 3 {
				t.Fatalf("totals %+v after %d requests, want 10 accepted after 3", tot, reqs)
			}
		})
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	p := newPeer(t)
	p.failFirst, p.failWith = 100, http.StatusBadGateway
	s := &Sender{URL: p.srv.URL, Token: "tok", Backoff: time.Millisecond, MaxAttempts: 3}
	_, err := s.Send(context.Background(), testFixes(5), nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusBadGateway || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Fatalf("err = %v, want a 502 StatusError after 3 attempts", err)
	}
	if reqs, _, _ := p.stats(); reqs != 3 {
		t.Fatalf("%d requests, want 3", reqs)
	}
}

func TestFailsFastOnClientErrors(t *testing.T) {
	p := newPeer(t)
	p.deny = "unauthenticated: token is expired"
	s := &Sender{URL: p.srv.URL, Token: "tok", BatchSize: 10, Concurrency: 2, Backoff: time.Millisecond}
	tot, err := s.Send(context.Background(), testFixes(100), nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized || !strings.Contains(se.Msg, "token is expired") {
		t.Fatalf("err = %v, want 401 with the server's message", err)
	}
	// Both workers may have had one request in flight; none was retried and
	// no further batch was started.
	if reqs, _, _ := p.stats(); reqs > 2 {
		t.Fatalf("%d requests after a 401, want at most 2", reqs)
	}
	if tot.Sent() != 0 {
		t.Fatalf("totals %+v, want none", tot)
	}
}

func TestNetworkErrorsAreRetriedThenReported(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	s := &Sender{URL: "http://" + addr + "/", Token: "tok", Backoff: time.Millisecond, MaxAttempts: 2}
	_, err = s.Send(context.Background(), testFixes(3), nil)
	if err == nil || !strings.Contains(err.Error(), "after 2 attempts") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err = %v, want connection refused after 2 attempts", err)
	}
}

func TestSplitsOnPayloadTooLarge(t *testing.T) {
	p := newPeer(t)
	p.maxBody = 4000 // about ten batch-mode events
	s := &Sender{URL: p.srv.URL, Token: "tok", BatchSize: 64}
	fixes := testFixes(64)
	tot, err := s.Send(context.Background(), fixes, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, got := p.stats(); tot.Accepted != 64 || len(got) != 64 {
		t.Fatalf("totals %+v, peer has %d fixes; want 64", tot, len(got))
	}
}

func TestCountsRejectedFixes(t *testing.T) {
	p := newPeer(t)
	fixes := testFixes(10)
	fixes[3].Lat = 91
	fixes[7].Battery = fix.Float(2)
	s := &Sender{URL: p.srv.URL, Token: "tok", BatchSize: 5}
	tot, err := s.Send(context.Background(), fixes, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tot.Accepted != 8 || tot.Rejected != 2 || len(tot.RejectedSamples) != 2 {
		t.Fatalf("totals %+v, want 8 accepted and 2 rejected", tot)
	}
	if !strings.Contains(tot.RejectedSamples[0], "lat") || !strings.Contains(tot.RejectedSamples[0], fixes[3].Device) {
		t.Errorf("sample %q should name the fix and the field", tot.RejectedSamples[0])
	}

	// A request where every fix is rejected is a 400 with a summary: counted,
	// not a failure of the whole send.
	bad := testFixes(2)
	bad[0].Lat, bad[1].Lat = 100, 100
	tot, err = s.Send(context.Background(), bad, nil)
	if err != nil || tot.Rejected != 2 {
		t.Fatalf("all-rejected batch: totals %+v, err %v", tot, err)
	}
}

func TestCancelStopsSending(t *testing.T) {
	p := newPeer(t)
	p.failFirst, p.failWith = 1000, http.StatusServiceUnavailable
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sender{URL: p.srv.URL, Token: "tok", Backoff: 50 * time.Millisecond}
	done := make(chan error, 1)
	go func() {
		_, err := s.Send(ctx, testFixes(10), nil)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestValidateRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name string
		s    *Sender
		want string
	}{
		{"no url", &Sender{}, "URL"},
		{"bad mode", &Sender{URL: "http://127.0.0.1:1", Mode: "smoke"}, "smoke"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.s.Send(context.Background(), testFixes(1), nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want mention of %q", err, c.want)
			}
		})
	}
}

func TestPostReadsTooOld(t *testing.T) {
	cases := []struct {
		name  string
		reply string
		want  Totals
	}{
		{"counted separately", `{"accepted":2,"duplicates":1,"too_old":7}`, Totals{Accepted: 2, Duplicates: 1, TooOld: 7}},
		{"absent is zero", `{"accepted":10,"duplicates":0}`, Totals{Accepted: 10}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				_, _ = w.Write([]byte(c.reply))
			}))
			defer srv.Close()
			s := &Sender{URL: srv.URL}
			got, err := s.Post(context.Background(), testFixes(10))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("totals %+v, want %+v", got, c.want)
			}
			if got.Sent() != got.Accepted+got.Duplicates+got.TooOld {
				t.Fatalf("Sent() = %d leaves out too_old", got.Sent())
			}
		})
	}
}
