package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The test vector of the Standard Webhooks reference libraries.
func TestSignStandardWebhooksVector(t *testing.T) {
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	now := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	sig, _ := Sign(secret, "msg_1", now.Unix(), body)
	header := func(ts string, sig string) http.Header {
		h := http.Header{}
		h.Set(HeaderID, "msg_1")
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		return h
	}
	cases := []struct {
		name string
		h    http.Header
		body []byte
		ok   bool
	}{
		{"valid", header("1614265330", sig), body, true},
		{"one of several", header("1614265330", "v1,bm9wZQ== "+sig), body, true},
		{"tampered body", header("1614265330", sig), []byte(`{"test": 1}`), false},
		{"old timestamp", header("1614264000", sig), body, false},
		{"missing", http.Header{}, body, false},
	}
	for _, tc := range cases {
		if err := Verify(secret, tc.h, tc.body, now, 5*time.Minute); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

func TestClassify(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		status     int
		retryAfter string
		verdict    Verdict
		wait       time.Duration
	}{
		{200, "", Delivered, 0},
		{204, "", Delivered, 0},
		{301, "", Dead, 0},
		{400, "", Dead, 0},
		{404, "", Dead, 0},
		{408, "", Retry, 0},
		{429, "7", Retry, 7 * time.Second},
		{429, now.Add(time.Minute).Format(http.TimeFormat), Retry, time.Minute},
		{500, "", Retry, 0},
		{503, "junk", Retry, 0},
	}
	for _, tc := range cases {
		a := Classify(tc.status, tc.retryAfter, nil, now)
		if a.Verdict != tc.verdict || a.RetryAfter != tc.wait {
			t.Errorf("%d %q: %v after %v, want %v after %v", tc.status, tc.retryAfter, a.Verdict, a.RetryAfter, tc.verdict, tc.wait)
		}
	}
}

func TestClientRefusesPrivateAddressesAtDial(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://example.com/", http.StatusFound)
	}))
	defer srv.Close()
	ctx := context.Background()
	now := time.Now()
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

	guarded := NewClient(2*time.Second, false)
	// "localhost" passes any check on the name; the dialled 127.0.0.1 does not.
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	a := Post(ctx, guarded, url, secret, "al_1", []byte("{}"), now)
	if a.Verdict != Dead || !strings.Contains(a.Err, "loopback") {
		t.Errorf("guarded client to %s: %+v, want dead (refused address)", url, a)
	}
	_, err := guarded.Get(srv.URL)
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("guarded GET %s: %v", srv.URL, err)
	}

	open := NewClient(2*time.Second, true)
	a = Post(ctx, open, srv.URL, secret, "al_1", []byte("{}"), now)
	if a.Verdict != Dead || a.Status != http.StatusFound {
		t.Errorf("redirect: %+v, want the 302 itself (not followed), a dead letter", a)
	}
}

func TestForbiddenAddresses(t *testing.T) {
	c := NewClient(time.Second, false)
	for _, addr := range []string{"127.0.0.1:80", "[::1]:80", "10.0.0.1:443", "192.168.1.1:443", "169.254.169.254:80", "[fe80::1]:80", "100.100.100.200:80", "0.0.0.0:80", "[::ffff:127.0.0.1]:80"} {
		tr := c.Transport.(*http.Transport)
		_, err := tr.DialContext(context.Background(), "tcp", addr)
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("dial %s: %v, want refused", addr, err)
		}
	}
}
