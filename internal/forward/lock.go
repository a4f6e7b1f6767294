package forward

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrLocked means another forwarder replica holds the lock; not a failure.
var ErrLocked = errors.New("forward: lock held by another replica")

// ErrLockLost means the lock expired or was taken while held; the run stops
// so that two replicas do not send concurrently.
var ErrLockLost = errors.New("forward: lock lost")

// renewScript extends the lock only if it still holds our token.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// releaseScript deletes the lock only if it still holds our token, so a
// replica whose lock expired cannot delete the next holder's.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Lock is a Redis lock (SET NX PX with a random token) that keeps two
// forwarder replicas of one edge from sending the same batch concurrently.
// Correctness does not rest on it (the cloud deduplicates); it saves
// duplicate traffic.
type Lock struct {
	client redis.UniversalClient
	key    string
	ttl    time.Duration
}

// NewLock returns a lock on key whose holder must renew within ttl.
func NewLock(client redis.UniversalClient, key string, ttl time.Duration) *Lock {
	return &Lock{client: client, key: key, ttl: ttl}
}

// Lease is one holding of a Lock.
type Lease struct {
	lock  *Lock
	token string
}

// Acquire takes the lock or returns ErrLocked.
func (l *Lock) Acquire(ctx context.Context) (*Lease, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("lock token: %w", err)
	}
	token := hex.EncodeToString(b[:])
	ok, err := l.client.SetNX(ctx, l.key, token, l.ttl).Result()
	if err != nil {
		return nil, fmt.Errorf("acquire lock %s: %w", l.key, err)
	}
	if !ok {
		return nil, ErrLocked
	}
	return &Lease{lock: l, token: token}, nil
}

// Renew extends the lease to a full ttl, or returns ErrLockLost.
func (le *Lease) Renew(ctx context.Context) error {
	n, err := renewScript.Run(ctx, le.lock.client, []string{le.lock.key}, le.token, le.lock.ttl.Milliseconds()).Int64()
	if err != nil {
		return fmt.Errorf("renew lock %s: %w", le.lock.key, err)
	}
	if n == 0 {
		return ErrLockLost
	}
	return nil
}

// Release gives the lock up if it is still ours.
func (le *Lease) Release(ctx context.Context) error {
	if err := releaseScript.Run(ctx, le.lock.client, []string{le.lock.key}, le.token).Err(); err != nil {
		return fmt.Errorf("release lock %s: %w", le.lock.key, err)
	}
	return nil
}

// keepAlive renews the lease every ttl/3 until stop is called. When the lease
// is lost, or cannot be renewed for a whole ttl, it calls lost(ErrLockLost).
func (le *Lease) keepAlive(ctx context.Context, lost func(error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		every := max(le.lock.ttl/3, time.Millisecond)
		ticker := time.NewTicker(every)
		defer ticker.Stop()
		lastOK := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			err := le.Renew(ctx)
			switch {
			case err == nil:
				lastOK = time.Now()
			case errors.Is(err, ErrLockLost):
				lost(err)
				return
			case time.Since(lastOK) >= le.lock.ttl:
				lost(fmt.Errorf("%w: not renewed for %s: %v", ErrLockLost, le.lock.ttl, err))
				return
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
