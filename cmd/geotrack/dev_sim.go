package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/fleet"
	"github.com/geotrack/geotrack/internal/sender"
)

// devSummaryEvery is how often the dev console gets one line about the
// simulated fleet, instead of a line per request.
const devSummaryEvery = 10 * time.Second

// runDevSimulation streams a simulated fleet into the dev runner's ingest,
// so `make dev` shows moving devices straight away, and logs one summary
// line every devSummaryEvery.
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
	var total, window sender.Totals
	last := time.Now()
	err = streamFleet(ctx, nil, fl, s, time.Second, func(t sender.Totals) {
		total.Add(t)
		window.Add(t)
		if since := time.Since(last); since >= devSummaryEvery {
			slog.Info("fleet", "devices", devices, "fixes_per_s", fmt.Sprintf("%.1f", float64(window.Sent())/since.Seconds()),
				"sent", total.Sent(), "accepted", total.Accepted, "duplicates", total.Duplicates, "rejected", total.Rejected)
			last, window = time.Now(), sender.Totals{}
		}
	})
	if err != nil {
		slog.Error("simulation stopped", "err", err)
	}
}
