package redisstore

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/dependency"
)

// outageReplies are the Redis error replies that mean "not now" rather than
// "wrong": a server loading its data, a replica or cluster in failover, a
// busy script, memory full.
var outageReplies = []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY", "NOREPLICAS", "OOM"}

// markOutage wraps err as a Redis outage (dependency.Unavailable) when Redis
// could not be reached or answered "not now", so functions reply 503 with
// Retry-After; a reply that points at a bug (a script error, WRONGTYPE) and
// redis.Nil stay as they are.
func markOutage(err error) error {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return err
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		msg := reply.Error()
		for _, p := range outageReplies {
			if strings.HasPrefix(msg, p) {
				return dependency.Unavailable("redis", err)
			}
		}
		return err
	}
	// Not a reply: refused or reset connections, timeouts, a closed pool.
	return dependency.Unavailable("redis", err)
}

// outageHook applies markOutage to every command a client sends.
type outageHook struct{}

func (outageHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (outageHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := markOutage(next(ctx, cmd))
		if err != nil {
			cmd.SetErr(err)
		}
		return err
	}
}

func (outageHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if cerr := cmd.Err(); cerr != nil {
				cmd.SetErr(markOutage(cerr))
			}
		}
		return markOutage(err)
	}
}
