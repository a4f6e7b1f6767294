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

func (c *tokenCache) put(token string, p Principal, exp, now time.Time) {
	if !now.Before(exp) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= tokenCacheSize {
		c.entries = make(map[string]cachedToken, 256)
	}
	c.entries[token] = cachedToken{p: p, exp: exp}
}

// reset forgets every verdict (the keys changed).
func (c *tokenCache) reset() {
	c.mu.Lock()
	c.entries = nil
	c.mu.Unlock()
}
