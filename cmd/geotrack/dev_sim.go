package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/sender"
)

// runDevSimulation streams a simulated fleet into the dev runner's ingest,
// so `make dev` shows moving devices straight away. It waits for the server
// to answer and logs a summary every half minute.
func runDevSimulation(ctx context.Context, ingestURL string, secret []byte, devices int, rate float64) {
	tok, err := auth.Sign(secret, auth.Principal{Tenant: "demo", Role: auth.RoleService}, 7*24*time.Hour)
	if err != nil {
		slog.Error("simulation token", "err", err)
		return
	}
	fl, err := fleet.New(fleet.Config{Devices: devices, Rate: rate, Center: fleet.London, Seed: uint64(time.Now().UnixNano()),
		Start: time.Now(), Prefix: fleet.DefaultPrefix, RadiusM: fleet.DefaultRadiusM})
	if err != nil {
		slog.Error("simulation", "err", err)
		return
	}
	s := &sender.Sender{URL: ingestURL, Token: tok, Source: "urn:geotrack:dev-simulation", BatchSize: sender.DefaultBatchSize, Concurrency: 1}
	if err := s.Validate(); err != nil {
		slog.Error("simulation", "err", err)
		return
	}
	slog.Info("streaming a simulated fleet into ingest", "devices", devices, "rate_per_device", rate, "tenant", "demo")
	var total sender.Totals
	last := time.Now()
	err = streamFleet(ctx, fl, s, time.Second, func(t sender.Totals) {
		total.Add(t)
		if time.Since(last) > 30*time.Second {
			last = time.Now()
			slog.Info("simulation", "sent", total.Sent(), "accepted", total.Accepted, "rejected", total.Rejected)
		}
	})
	if err != nil {
		slog.Error("simulation stopped", "err", err)
	}
}
