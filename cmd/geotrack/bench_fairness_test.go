package main

import (
	"testing"
	"time"
)

func TestParseRedisWork(t *testing.T) {
	tests := []struct {
		name string
		info string
		want redisWork
	}{
		{"cpu and both script commands",
			"# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:0.250000\r\nused_cpu_sys_children:9.000000\r\n# Commandstats\r\n" +
				"cmdstat_evalsha:calls=10,usec=2000,usec_per_call=200.00,rejected_calls=0,failed_calls=0\r\n" +
				"cmdstat_eval:calls=2,usec=500,usec_per_call=250.00,rejected_calls=0,failed_calls=0\r\n" +
				"cmdstat_get:calls=99,usec=99,usec_per_call=1.00\r\n",
			redisWork{cpu: 1750 * time.Millisecond, scripts: 12, scriptTime: 2500 * time.Microsecond}},
		{"no script run yet", "used_cpu_sys:0.1\nused_cpu_user:0.1\n", redisWork{cpu: 200 * time.Millisecond}},
		{"empty", "", redisWork{}},
		{"garbage values are skipped", "used_cpu_sys:x\ncmdstat_evalsha:calls=y,usec=3\n", redisWork{scriptTime: 3 * time.Microsecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseRedisWork(tt.info); got != tt.want {
				t.Errorf("parseRedisWork = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRedisWorkSince(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)
	before := redisWork{at: t0, cpu: time.Second, scripts: 10, scriptTime: time.Millisecond}
	after := redisWork{at: t0.Add(2 * time.Second), cpu: 3 * time.Second, scripts: 30, scriptTime: 5 * time.Millisecond}
	tests := []struct {
		name          string
		later, before redisWork
		want          redisWork
	}{
		{"difference over the wall time", after, before,
			redisWork{wall: 2 * time.Second, cpu: 2 * time.Second, scripts: 20, scriptTime: 4 * time.Millisecond}},
		{"a failed first reading gives nothing", after, redisWork{}, redisWork{}},
		{"a failed last reading gives nothing", redisWork{}, before, redisWork{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.later.since(tt.before); got != tt.want {
				t.Errorf("since = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestErrorKinds(t *testing.T) {
	tests := []struct {
		n     int
		kinds map[string]int
		want  string
	}{
		{0, nil, "0"},
		{3, nil, "3"},
		{6, map[string]int{"429": 6}, "6 (429: 6)"},
		{5, map[string]int{"transport": 1, "429": 3, "503": 1}, "5 (429: 3, 503: 1, transport: 1)"},
	}
	for _, tt := range tests {
		if got := errorKinds(tt.n, tt.kinds); got != tt.want {
			t.Errorf("errorKinds(%d, %v) = %q, want %q", tt.n, tt.kinds, got, tt.want)
		}
	}
}
