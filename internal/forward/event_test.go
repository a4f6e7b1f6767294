package forward

import (
	"encoding/json"
	"github.com/geotrack/geotrack/internal/eventtype"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/outbox"
)

func entries(tenants ...string) []outbox.Entry {
	fixes := makeFixes("d1", 0, len(tenants))
	out := make([]outbox.Entry, len(tenants))
	for i, tn := range tenants {
		out[i] = outbox.Entry{ID: "1764064800000-" + strconv.Itoa(i), Tenant: tn, Fix: fixes[i]}
	}
	return out
}

func TestEncodeBatchIsDeterministic(t *testing.T) {
	batch := entries("acme", "acme", "acme")
	id1, body1, err := encodeBatch("edge-9", batch)
	if err != nil {
		t.Fatal(err)
	}
	id2, body2, _ := encodeBatch("edge-9", batch)
	if id1 != id2 || string(body1) != string(body2) {
		t.Errorf("encoding the same batch twice differs:\n%s\n%s", body1, body2)
	}
	if id1 != "edge-9-1764064800000-0-1764064800000-2" {
		t.Errorf("id = %s", id1)
	}
	var ev map[string]any
	if err := json.Unmarshal(body1, &ev); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"specversion": "1.0", "type": eventtype.LocationReported, "source": "urn:geotrack:edge:edge-9", "id": id1,
		"time": "2025-11-25T10:00:00.000Z", "subject": "d1", "datacontenttype": "application/json", "tenant": "acme",
	}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("%s = %v, want %v", k, ev[k], v)
		}
	}
	data, _ := json.Marshal(ev["data"])
	items, err := fix.SplitBatch(data)
	if err != nil || len(items) != 3 {
		t.Fatalf("data: %d items, %v", len(items), err)
	}
	for i, raw := range items {
		f, err := fix.Decode(raw, "")
		if err != nil || key(f) != key(batch[i].Fix) {
			t.Errorf("data[%d] = %s, %v", i, raw, err)
		}
	}
	if _, _, err := encodeBatch("n", nil); err == nil {
		t.Error("encoding an empty batch succeeded")
	}
}

func TestSubjectOnlyForOneDevice(t *testing.T) {
	batch := entries("acme", "acme")
	batch[1].Fix.Device = "d2"
	_, body, err := encodeBatch("n", batch)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), `"subject"`) {
		t.Errorf("mixed-device batch has a subject: %s", body)
	}
}

func TestSameTenantPrefix(t *testing.T) {
	tests := []struct {
		tenants []string
		want    int
	}{
		{[]string{"a"}, 1},
		{[]string{"a", "a", "a"}, 3},
		{[]string{"a", "b", "a"}, 1},
		{[]string{"a", "a", "b"}, 2},
		{[]string{"", "", "x"}, 2},
	}
	for _, tt := range tests {
		if got := len(sameTenantPrefix(entries(tt.tenants...))); got != tt.want {
			t.Errorf("sameTenantPrefix(%v) = %d entries, want %d", tt.tenants, got, tt.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"99999999999", time.Hour},
		{"Wed, 25 Nov 2026 10:00:30 GMT", 30 * time.Second},
		{"Wed, 25 Nov 2026 09:00:00 GMT", 0},
		{"Fri, 25 Nov 2050 09:00:00 GMT", time.Hour},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "7", "-1", "1e9", "Wed, 25 Nov 2026 10:00:30 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "99999999999999999999"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := parseRetryAfter(v, now); d < 0 || d > maxRetryAfter {
			t.Fatalf("parseRetryAfter(%q) = %v, want within [0, %v]", v, d, maxRetryAfter)
		}
	})
}

func TestClassify(t *testing.T) {
	tests := map[int]verdict{
		200: delivered, 202: delivered, 204: delivered, 207: delivered,
		400: rejected, 409: rejected, 413: rejected, 415: rejected, 422: rejected,
		401: retry, 403: retry, 404: retry, 405: retry, 408: retry, 425: retry, 429: retry,
		500: retry, 503: retry, 302: retry, 101: retry,
	}
	for status, want := range tests {
		if got := classify(status); got != want {
			t.Errorf("classify(%d) = %v, want %v", status, got, want)
		}
	}
}
