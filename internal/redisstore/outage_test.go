package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/dependency"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/testenv"
)

// replyError stands for an error reply of Redis (go-redis' proto.RedisError).
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

func TestMarkOutage(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	cases := []struct {
		name   string
		err    error
		outage bool
	}{
		{"connection refused", refused, true},
		{"timeout", fmt.Errorf("read: %w", context.DeadlineExceeded), true},
		{"pool closed", redis.ErrClosed, true},
		{"loading", replyError("LOADING Redis is loading the dataset in memory"), true},
		{"failover", replyError("READONLY You can't write against a read only replica."), true},
		{"cluster down", replyError("CLUSTERDOWN The cluster is down"), true},
		{"busy script", replyError("BUSY Redis is busy running a script."), true},
		{"script bug", replyError("ERR user_script:1: Script attempted to access nonexistent global variable"), false},
		{"wrong type", replyError("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{"nil reply", redis.Nil, false},
		{"caller gone", context.Canceled, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := markOutage(tc.err)
			if _, ok := dependency.As(err); ok != tc.outage {
				t.Fatalf("markOutage(%v) outage = %v, want %v", tc.err, ok, tc.outage)
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("markOutage(%v) = %v lost the cause", tc.err, err)
			}
		})
	}
	if markOutage(nil) != nil {
		t.Fatal("markOutage(nil) != nil")
	}
}

// TestOpenMarksOutages: a client from Open reports a stopped Redis as a
// dependency outage, within the configured timeouts, for single commands,
// scripts and pipelines alike; and works again once Redis is back.
func TestOpenMarksOutages(t *testing.T) {
	rs := testenv.StartRedis(t)
	c, err := Open(rs.URL, WithTimeouts(200*time.Millisecond, 500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, "missing").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("missing key: %v, want redis.Nil unmarked", err)
	}
	rs.Stop()
	store := New(c, Options{})
	_, saveErr := store.Save(ctx, "t1", []Group{{Source: "s", ID: "1", Fixes: []fix.Fix{mkFix("d1", time.Now().Add(-time.Minute), 48.85, 2.35)}}}, time.Now())
	pipe := c.Pipeline()
	pipe.Get(ctx, "k")
	_, pipeErr := pipe.Exec(ctx)
	for name, err := range map[string]error{"GET": c.Get(ctx, "k").Err(), "Save": saveErr, "pipeline": pipeErr} {
		de, ok := dependency.As(err)
		if !ok || de.Name != "redis" {
			t.Errorf("%s with Redis stopped: %v, want a redis outage", name, err)
		}
	}
	rs.Restart(t)
	if err := c.Get(ctx, "k").Err(); err != nil && !errors.Is(err, redis.Nil) {
		t.Fatalf("after restart: %v", err)
	}
}
