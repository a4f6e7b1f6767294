package forward

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestLockExclusiveAndCompareAndDelete(t *testing.T) {
	e := startEdge(t)
	ctx := context.Background()
	l := NewLock(e.client, "gt:{edge}:outbox:lock", time.Minute)
	a, err := l.Acquire(ctx)
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	if _, err := l.Acquire(ctx); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Acquire: %v, want ErrLocked", err)
	}
	// Renew resets the TTL.
	if err := e.client.PExpire(ctx, "gt:{edge}:outbox:lock", 5*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.Renew(ctx); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if ttl := e.client.PTTL(ctx, "gt:{edge}:outbox:lock").Val(); ttl <= 5*time.Second {
		t.Errorf("PTTL after Renew = %v, want it back near a minute", ttl)
	}
	// a's lease expires (simulated) and b takes the lock: a can neither
	// renew nor release b's lock.
	if err := e.client.Del(ctx, "gt:{edge}:outbox:lock").Err(); err != nil {
		t.Fatal(err)
	}
	b, err := l.Acquire(ctx)
	if err != nil {
		t.Fatalf("Acquire after expiry: %v", err)
	}
	if err := a.Renew(ctx); !errors.Is(err, ErrLockLost) {
		t.Errorf("stale Renew: %v, want ErrLockLost", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(ctx); !errors.Is(err, ErrLocked) {
		t.Errorf("stale Release deleted the new holder's lock (Acquire: %v)", err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err := l.Acquire(ctx); err != nil {
		t.Errorf("Acquire after Release: %v", err)
	} else {
		c.Release(ctx)
	}
}

func TestKeepAliveReportsLostLock(t *testing.T) {
	e := startEdge(t)
	ctx := context.Background()
	l := NewLock(e.client, "lk", 300*time.Millisecond)
	lease, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lost := make(chan error, 1)
	stop := lease.keepAlive(ctx, func(err error) { lost <- err })
	defer stop()
	// Someone else takes over (as after an expiry).
	if err := e.client.Set(ctx, "lk", "other", 0).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		if !errors.Is(err, ErrLockLost) {
			t.Errorf("lost(%v), want ErrLockLost", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("keepAlive never noticed the lost lock")
	}
}

// While one replica is sending, another gets ErrLocked and sends nothing.
func TestLockPreventsConcurrentSends(t *testing.T) {
	e := startEdge(t)
	arrived, release := make(chan struct{}), make(chan struct{})
	c := newCloud(t, func(n int, ev *received) action {
		if n == 0 {
			return action{store: true, arrived: arrived, block: release}
		}
		return accept()
	})
	f1 := e.forwarder(t, c, nil)
	f2 := e.forwarder(t, c, nil)
	e.append(t, "acme", makeFixes("d1", 0, 50))
	done := make(chan error, 1)
	go func() {
		_, err := f1.RunOnce(context.Background())
		done <- err
	}()
	<-arrived
	res, err := f2.RunOnce(context.Background())
	if !errors.Is(err, ErrLocked) || res.Sent != 0 {
		t.Fatalf("second replica: %+v, %v; want ErrLocked", res, err)
	}
	if res.Backlog != 50 {
		t.Errorf("locked-out replica reports backlog %d, want 50", res.Backlog)
	}
	if f2.Metrics().FailuresTotal != 0 {
		t.Error("being locked out counted as a failure")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("first replica: %v", err)
	}
	if n := len(c.received()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// Several replicas draining at once: never two sends in flight, and every
// fix reaches the cloud exactly once without relying on dedup.
func TestReplicasNeverSendConcurrently(t *testing.T) {
	e := startEdge(t)
	c := newCloud(t, nil)
	in := append(makeFixes("d1", 0, 1500), makeFixes("d2", 0, 1500)...)
	e.append(t, "acme", in)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 3 {
		f := e.forwarder(t, c, func(cfg *Config) { cfg.BatchSize = 50; cfg.MaxBatchesPerRun = 2 })
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.Run(ctx, nil, time.Millisecond)
		}()
	}
	eventually(t, "all fixes stored", func() bool { return c.storedCount() == len(in) })
	cancel()
	wg.Wait()
	c.requireStoredExactly(t, in)
	if got := c.maxInflight.Load(); got != 1 {
		t.Errorf("max concurrent sends %d, want 1", got)
	}
	if got := c.fixesReceived(); got != len(in) {
		t.Errorf("cloud received %d fixes, want exactly %d (no duplicate sends)", got, len(in))
	}
}
