package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/geotrack/geotrack/functions"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/events"
)

func init() {
	register(command{name: "relay", summary: "deliver the queued events to the event sink until the outboxes are empty (a scheduled job)", run: runRelay})
}

// relayEnv is what the relay reads: the emitting functions' Redis and sink.
type relayEnv struct {
	config.Redis
	events.SinkConfig
}

// runRelay is the scheduled form of the relay every emitting function runs
// in-process: for deployments that scale functions to zero or set
// EVENT_RELAY_DISABLED=true. It reads the same environment as ingest.
func runRelay(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long (the next run carries on)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var env relayEnv
	if err := config.Load(&env); err != nil {
		return err
	}
	env.RelayDisabled = true // this command drives it
	deps := &functions.Deps{}
	defer deps.Close()
	relay, err := deps.EventRelay(env.Redis, env.SinkConfig)
	if err != nil {
		return err
	}
	if relay == nil {
		return errors.New("relay: no event sink configured (set EVENT_SINK or K_SINK)")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	delivered, dead := 0, 0
	for {
		res, err := relay.RunOnce(ctx)
		delivered += res.Delivered
		dead += res.DeadLettered
		if err != nil {
			return fmt.Errorf("relay: %d events delivered, then: %w", delivered, err)
		}
		if !res.More {
			break
		}
	}
	fmt.Printf("delivered %d events, dead-lettered %d\n", delivered, dead)
	return nil
}
