// Package ratelimit is an in-process token bucket per key (a tenant, a
// device): cheap enough to run on every request, no Redis round trip. Each
// replica counts on its own, so a deployment admits up to replicas × rate
// (see SECURITY.md).
package ratelimit

import (
	"math"
	"sync"
	"time"
)

// Rate is a bucket's refill per second and its size. A zero PerSecond
// means unlimited.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Unlimited reports whether r admits everything.
func (r Rate) Unlimited() bool { return r.PerSecond <= 0 }

type bucket struct {
	tokens float64
	at     time.Time
}

// Limiter holds the buckets. The zero Limiter is ready to use.
type Limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

// maxBuckets bounds memory: past it, buckets that have refilled (whose
// key has been quiet) are dropped, which changes nothing for their keys.
const maxBuckets = 100_000

// Allow takes one token from key's bucket at rate r. When the bucket is
// empty it returns false and how long until a token is back.
func (l *Limiter) Allow(key string, r Rate, now time.Time) (bool, time.Duration) {
	return l.AllowN(key, r, now, 1)
}

// AllowN takes n tokens from key's bucket when it holds at least one; the
// bucket may go into debt (a 10,000-fix batch against a burst of 2,000), so
// the next requests wait until the debt is paid back at the rate. An empty
// bucket refuses and says how long until a token is back.
func (l *Limiter) AllowN(key string, r Rate, now time.Time, n int) (bool, time.Duration) {
	if r.Unlimited() || n <= 0 {
		return true, 0
	}
	burst := float64(max(r.Burst, 1))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.dropFull(now, r)
		}
		b = &bucket{tokens: burst, at: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		b.tokens = math.Min(burst, b.tokens+elapsed*r.PerSecond)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens -= float64(n)
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / r.PerSecond * float64(time.Second))
	return false, wait
}

// Empty reports whether Allow would refuse key now, and how long until a
// token is back, without taking one: a cheap early refusal before a request
// is read (the request that passes still takes its token with Allow).
func (l *Limiter) Empty(key string, r Rate, now time.Time) (bool, time.Duration) {
	if r.Unlimited() {
		return false, 0
	}
	burst := float64(max(r.Burst, 1))
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return false, 0
	}
	tokens := b.tokens
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		tokens = math.Min(burst, tokens+elapsed*r.PerSecond)
	}
	if tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - tokens) / r.PerSecond * float64(time.Second))
}

// dropFull forgets buckets that would be full by now at rate r (keys with
// another rate are judged by r too: at worst one is forgotten a little
// early, and starts again full, as a new key would).
func (l *Limiter) dropFull(now time.Time, r Rate) {
	burst := float64(max(r.Burst, 1))
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*r.PerSecond >= burst {
			delete(l.buckets, k)
		}
	}
}

// Len is how many buckets are kept.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
