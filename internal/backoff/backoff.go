// Package backoff computes retry waits: exponential, capped, with jitter.
// It is the one retry schedule of the repository, used by the sender client
// (simulate, replay, import, bench), the edge forwarder and the event relay.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Policy is an exponential backoff with jitter. Retry n (1 = the first
// retry) waits a uniformly random duration in [Min, cap(n)], where
// cap(n) = min(Max, Min·2^(n-1)): the first retry waits exactly Min, later
// ones spread ever wider so that clients failing together do not retry in
// lockstep, and no wait is shorter than Min or longer than Max.
type Policy struct {
	Min, Max time.Duration
}

// Delay is the wait before retry n; n < 1 counts as 1. Max below Min is
// taken as Min.
func (p Policy) Delay(n int) time.Duration {
	if p.Min <= 0 {
		return 0
	}
	ceiling := max(p.Max, p.Min)
	hi := p.Min
	for i := 1; i < n && hi < ceiling; i++ {
		hi *= 2
	}
	hi = min(hi, ceiling)
	return p.Min + rand.N(hi-p.Min+1)
}
