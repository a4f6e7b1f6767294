package redisstore

import (
	"context"
	"sync"
	"time"
)

// maxCoalescedFixes bounds one coalesced script call; it matches the size at
// which a single Save is chunked anyway.
const maxCoalescedFixes = maxChunkFixes

// committer batches the Saves of one tenant (all of whose keys live in one
// slot, so they can share a script call).
type committer struct {
	mu      sync.Mutex
	pending []*saveCall
	running bool
}

type saveCall struct {
	groups []prepared
	now    time.Time
	done   chan struct{}
	res    SaveResult
	err    error
}

func (s *Store) committer(tenant string) *committer {
	if c, ok := s.committers.Load(tenant); ok {
		return c.(*committer)
	}
	c, _ := s.committers.LoadOrStore(tenant, &committer{})
	return c.(*committer)
}

// save queues the call; the first caller to find no call in flight becomes
// the leader and runs queued calls until its own is done, then hands the
// rest to a new leader so that no caller waits for others' later work.
func (c *committer) save(ctx context.Context, s *Store, tenant string, groups []prepared, now time.Time) (SaveResult, error) {
	call := &saveCall{groups: groups, now: now, done: make(chan struct{})}
	c.mu.Lock()
	c.pending = append(c.pending, call)
	lead := !c.running
	c.running = true
	c.mu.Unlock()
	if lead {
		c.lead(s, tenant, call)
	}
	select {
	case <-call.done:
		return call.res, call.err
	case <-ctx.Done():
		// The call may still be written; the caller's retry is then
		// deduplicated like any redelivery.
		return SaveResult{}, ctx.Err()
	}
}

// lead runs batches until mine is done; then another goroutine carries on
// if more calls are waiting.
func (c *committer) lead(s *Store, tenant string, mine *saveCall) {
	for {
		batch := c.take()
		if len(batch) == 0 {
			return
		}
		c.run(s, tenant, batch)
		select {
		case <-mine.done:
			c.mu.Lock()
			more := len(c.pending) > 0
			if !more {
				c.running = false
			}
			c.mu.Unlock()
			if more {
				go c.lead(s, tenant, &saveCall{done: closedChan})
			}
			return
		default:
		}
	}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// take removes up to maxCoalescedFixes worth of queued calls (at least one),
// or marks the committer idle when nothing is queued.
func (c *committer) take() []*saveCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		c.running = false
		return nil
	}
	n, fixes := 0, 0
	for n < len(c.pending) {
		f := 0
		for _, g := range c.pending[n].groups {
			f += len(g.Fixes)
		}
		if n > 0 && fixes+f > maxCoalescedFixes {
			break
		}
		fixes += f
		n++
	}
	batch := c.pending[:n:n]
	c.pending = append([]*saveCall(nil), c.pending[n:]...)
	return batch
}

// run saves a batch in one call and hands each caller its own results.
func (c *committer) run(s *Store, tenant string, batch []*saveCall) {
	if len(batch) == 1 {
		b := batch[0]
		b.res, b.err = s.saveNow(context.Background(), tenant, b.groups, b.now)
		close(b.done)
		return
	}
	var all []prepared
	now := batch[0].now
	for _, b := range batch {
		all = append(all, b.groups...)
		if b.now.After(now) {
			now = b.now
		}
	}
	// Not the callers' contexts: one caller giving up must not fail the
	// others' writes. Bounded so a hung Redis cannot pin the leader forever.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	res, err := s.saveNow(ctx, tenant, all, now)
	cancel()
	off := 0
	for _, b := range batch {
		if err != nil {
			b.err = err
		} else {
			r := SaveResult{PerGroup: res.PerGroup[off : off+len(b.groups) : off+len(b.groups)]}
			for _, g := range r.PerGroup {
				r.Accepted += g.Accepted
				r.Duplicates += g.DupFixes
				r.OverQuota += g.OverQuota
				if g.Conflict {
					r.Conflicts++
				}
			}
			if r.OverQuota > 0 {
				r.DeviceQuota = res.DeviceQuota
			}
			b.res = r
		}
		off += len(b.groups)
		close(b.done)
	}
}
