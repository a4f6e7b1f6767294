package functions

import (
	"context"

	fnmovement "github.com/geotrack/geotrack/functions/movement"
	fntrips "github.com/geotrack/geotrack/functions/trips"
	"github.com/geotrack/geotrack/internal/config"
	"github.com/geotrack/geotrack/internal/locate"
	"github.com/geotrack/geotrack/internal/movement"
	"github.com/geotrack/geotrack/internal/redisstore"
)

// The movement functions: live trips and stops, and the trips report.

func buildMovement(ctx context.Context, d *Deps) (*Built, error) {
	var cfg fnmovement.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	client, err := d.Redis(cfg.Redis)
	if err != nil {
		return nil, err
	}
	verifier, err := d.Auth(cfg.Config)
	if err != nil {
		return nil, err
	}
	states := redisstore.NewMovementStore(client, redisstore.MovementOptions{
		StateTTL: cfg.StateTTL, LogRetention: cfg.EventLogRetention, Source: cfg.Source,
	})
	live := movement.NewLive(states, movement.DefaultRules{})
	return &Built{Handler: fnmovement.New(live, verifier), Ready: pinger(client)}, nil
}

func buildTrips(ctx context.Context, d *Deps) (*Built, error) {
	var cfg fntrips.Config
	if err := config.Load(&cfg); err != nil {
		return nil, err
	}
	store, ready, verifier, err := hotStore(d, cfg.Redis, cfg.Config, redisstore.Options{})
	if err != nil {
		return nil, err
	}
	reports := movement.NewReports(locate.New(store), movement.DefaultRules{})
	return &Built{Handler: fntrips.New(reports, verifier), Ready: ready}, nil
}
