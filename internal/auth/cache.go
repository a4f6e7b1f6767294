package auth

import (
	"sync"
	"time"
)

// tokenCache remembers verified tokens until they expire, so a device that
// sends a fix every second does not pay for JWT parsing and HMAC each time.
// Bounded: when full it starts over (tokens are cheap to verify again).
type tokenCache struct {
	mu      sync.RWMutex
	entries map[string]cachedToken
	gen     uint64 // bumped by reset: a verdict reached before it is not kept
}

type cachedToken struct {
	p   Principal
	exp time.Time
}

const tokenCacheSize = 10000

func (c *tokenCache) get(token string, now time.Time) (Principal, bool) {
	c.mu.RLock()
	e, ok := c.entries[token]
	c.mu.RUnlock()
	if !ok || !now.Before(e.exp) {
		return Principal{}, false
	}
	return e.p, true
}

// generation is what put must be given: the cache's state when the
// verification began.
func (c *tokenCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

func (c *tokenCache) put(token string, p Principal, exp, now time.Time) {
	c.putUnlessReset(token, p, exp, now, c.generation())
}

// putUnlessReset is put, skipped when the cache was reset since gen.
func (c *tokenCache) putUnlessReset(token string, p Principal, exp, now time.Time, gen uint64) {
	if !now.Before(exp) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return // the keys changed while this token was verified with the old ones
	}
	if c.entries == nil || len(c.entries) >= tokenCacheSize {
		c.entries = make(map[string]cachedToken, 256)
	}
	c.entries[token] = cachedToken{p: p, exp: exp}
}

// reset forgets every verdict (the keys changed).
func (c *tokenCache) reset() {
	c.mu.Lock()
	c.entries = nil
	c.gen++
	c.mu.Unlock()
}
