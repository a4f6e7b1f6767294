package main

import (
	"context"
	"strings"
	"testing"

	"github.com/geotrack/geotrack/internal/testenv"
)

func TestLimitsSetsShowsAndClears(t *testing.T) {
	r := testenv.StartRedis(t)
	ctx := context.Background()
	run := func(args ...string) (string, error) {
		var out strings.Builder
		err := limits(ctx, append([]string{"--redis-url", r.URL, "--tenant", "acme"}, args...), &out)
		return strings.TrimSpace(out.String()), err
	}
	cases := []struct {
		name    string
		args    []string
		want    string
		wantErr string
	}{
		{"nothing set", nil, `{"tenant":"acme"}`, ""},
		{"set all", []string{"--rate", "100", "--burst", "200", "--device-rate", "2", "--device-burst", "5", "--fixes-rate", "5000", "--fixes-burst", "10000"},
			`{"tenant":"acme","tenant_override":{"per_second":100,"burst":200},"device_override":{"per_second":2,"burst":5},"fixes_override":{"per_second":5000,"burst":10000}}`, ""},
		{"show", nil, `{"tenant":"acme","tenant_override":{"per_second":100,"burst":200},"device_override":{"per_second":2,"burst":5},"fixes_override":{"per_second":5000,"burst":10000}}`, ""},
		{"fixes rate without burst", []string{"--fixes-rate", "1"}, "", "--fixes-burst"},
		{"rate without burst", []string{"--rate", "1"}, "", "--burst"},
		{"negative", []string{"--rate", "-1", "--burst", "1"}, "", "negative"},
		{"clear with a rate", []string{"--clear", "--rate", "1", "--burst", "1"}, "", "--clear"},
		{"quotas next to the rates", []string{"--devices", "3", "--fences", "10", "--rules", "5"},
			`{"tenant":"acme","tenant_override":{"per_second":100,"burst":200},"device_override":{"per_second":2,"burst":5},"fixes_override":{"per_second":5000,"burst":10000},"device_quota":3,"fence_quota":10,"rule_quota":5}`, ""},
		{"rates replaced, quotas kept", []string{"--rate", "7", "--burst", "8"},
			`{"tenant":"acme","tenant_override":{"per_second":7,"burst":8},"device_quota":3,"fence_quota":10,"rule_quota":5}`, ""},
		{"one quota back to its default", []string{"--fences", "0"},
			`{"tenant":"acme","tenant_override":{"per_second":7,"burst":8},"device_quota":3,"rule_quota":5}`, ""},
		{"negative devices", []string{"--devices", "-1"}, "", "--devices must not be negative"},
		{"negative rules", []string{"--rules", "-5"}, "", "--rules must not be negative"},
		{"devices not a number", []string{"--devices", "many"}, "", "invalid value"},
		{"clear with a quota", []string{"--clear", "--devices", "1"}, "", "--clear takes no quotas"},
		{"clear", []string{"--clear"}, `{"tenant":"acme"}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %s, %v; want %s", got, err, tc.want)
			}
		})
	}
	var out strings.Builder
	if err := limits(ctx, []string{"--redis-url", r.URL, "--tenant", "a{b}"}, &out); err == nil {
		t.Fatal("a tenant with braces was accepted")
	}
}
