package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/geotrack/geotrack/internal/guard"
	"github.com/geotrack/geotrack/internal/ratelimit"
	"github.com/geotrack/geotrack/internal/redisstore"
)

func init() {
	register(command{name: "limits", summary: "show or set a tenant's rate-limit and quota overrides: --redis-url U --tenant T [--rate R --burst B] [--device-rate R --device-burst B] [--fixes-rate R --fixes-burst B] [--devices N] [--fences N] [--rules N] [--clear]", run: runLimits})
}

func runLimits(ctx context.Context, args []string) error {
	return limits(ctx, args, os.Stdout)
}

// limits is the operator's handle on the per-tenant overrides the guard of
// every function applies within AUTH_REVOCATION_POLL (a tenant admin cannot
// raise its own limits: this talks to Redis, not to a function).
func limits(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("limits", flag.ContinueOnError)
	redisURL := fs.String("redis-url", os.Getenv("REDIS_URL"), "the hot store's Redis (default $REDIS_URL)")
	caFile := fs.String("redis-ca-file", os.Getenv("REDIS_TLS_CA_FILE"), "CA bundle for rediss:// (default $REDIS_TLS_CA_FILE)")
	tenant := fs.String("tenant", "", "tenant (required)")
	rate := fs.Float64("rate", 0, "requests/s of the whole tenant per replica (0: the RATE_LIMIT_TENANT default)")
	burst := fs.Int("burst", 0, "burst of the tenant's bucket")
	deviceRate := fs.Float64("device-rate", 0, "requests/s of each device token (0: the RATE_LIMIT_DEVICE default)")
	deviceBurst := fs.Int("device-burst", 0, "burst of each device's bucket")
	fixesRate := fs.Float64("fixes-rate", 0, "fixes/s the tenant may store through ingest and edge-ingest (0: the RATE_LIMIT_TENANT_FIXES default)")
	fixesBurst := fs.Int("fixes-burst", 0, "burst of the tenant's fixes bucket")
	devices := fs.Int("devices", 0, "devices the tenant may hold (0: back to the DEVICE_QUOTA default)")
	fences := fs.Int("fences", 0, "fences the tenant may hold (0: back to the GEOFENCE_QUOTA default)")
	rules := fs.Int("rules", 0, "alert rules the tenant may hold (0: back to the default, 1000)")
	clear := fs.Bool("clear", false, "remove the tenant's overrides (rates and quotas)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// A quota flag given (even 0, which removes the override) is applied
	// on its own; the rates are replaced together, as before.
	quotas := map[redisstore.QuotaField]int{}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "devices":
			quotas[redisstore.QuotaDevices] = *devices
		case "fences":
			quotas[redisstore.QuotaFences] = *fences
		case "rules":
			quotas[redisstore.QuotaRules] = *rules
		}
	})
	for field, n := range quotas {
		if n < 0 {
			return fmt.Errorf("limits: --%s must not be negative (0 removes the override)", field)
		}
	}
	if *clear && len(quotas) > 0 {
		return errors.New("limits: --clear takes no quotas")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("limits: unexpected argument %q", fs.Arg(0))
	}
	if *redisURL == "" || *tenant == "" {
		return errors.New("limits: --redis-url (or REDIS_URL) and --tenant are required")
	}
	if !redisstore.ValidTenant(*tenant) {
		return fmt.Errorf("limits: --tenant %q is not a tenant id", *tenant)
	}
	if *rate < 0 || *burst < 0 || *deviceRate < 0 || *deviceBurst < 0 || *fixesRate < 0 || *fixesBurst < 0 {
		return errors.New("limits: rates and bursts must not be negative")
	}
	set := *rate > 0 || *deviceRate > 0 || *fixesRate > 0
	if set && *clear {
		return errors.New("limits: --clear takes no rates")
	}
	if (*rate > 0 && *burst == 0) || (*deviceRate > 0 && *deviceBurst == 0) || (*fixesRate > 0 && *fixesBurst == 0) {
		return errors.New("limits: give a --burst (--device-burst, --fixes-burst) with each rate")
	}
	client, err := redisstore.Open(*redisURL, redisstore.WithCAFile(*caFile))
	if err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	defer client.Close()
	store := redisstore.NewPolicies(client, "")
	if set || *clear {
		l := guard.Limits{Tenant: ratelimit.Rate{PerSecond: *rate, Burst: *burst}, Device: ratelimit.Rate{PerSecond: *deviceRate, Burst: *deviceBurst},
			TenantFixes: ratelimit.Rate{PerSecond: *fixesRate, Burst: *fixesBurst}}
		if err := store.SetLimits(ctx, *tenant, l); err != nil {
			return fmt.Errorf("limits: %w", err)
		}
	}
	if *clear {
		quotas = map[redisstore.QuotaField]int{redisstore.QuotaDevices: 0, redisstore.QuotaFences: 0, redisstore.QuotaRules: 0}
	}
	for _, field := range []redisstore.QuotaField{redisstore.QuotaDevices, redisstore.QuotaFences, redisstore.QuotaRules} {
		if n, ok := quotas[field]; ok {
			if err := store.SetQuota(ctx, *tenant, field, n); err != nil {
				return fmt.Errorf("limits: %w", err)
			}
		}
	}
	q, err := store.Quotas(ctx, *tenant)
	if err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	pol, err := store.Policy(ctx, *tenant, time.Now())
	if err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	type rateJSON struct {
		PerSecond float64 `json:"per_second"`
		Burst     int     `json:"burst"`
	}
	shown := struct {
		Name           string    `json:"tenant"`
		TenantOverride *rateJSON `json:"tenant_override,omitempty"`
		DeviceOverride *rateJSON `json:"device_override,omitempty"`
		FixesOverride  *rateJSON `json:"fixes_override,omitempty"`
		DeviceQuota    int       `json:"device_quota,omitempty"`
		FenceQuota     int       `json:"fence_quota,omitempty"`
		RuleQuota      int       `json:"rule_quota,omitempty"`
	}{Name: *tenant, DeviceQuota: q.Devices, FenceQuota: q.Fences, RuleQuota: q.Rules}
	if r := pol.Limits.Tenant; r.PerSecond > 0 {
		shown.TenantOverride = &rateJSON{r.PerSecond, r.Burst}
	}
	if r := pol.Limits.Device; r.PerSecond > 0 {
		shown.DeviceOverride = &rateJSON{r.PerSecond, r.Burst}
	}
	if r := pol.Limits.TenantFixes; r.PerSecond > 0 {
		shown.FixesOverride = &rateJSON{r.PerSecond, r.Burst}
	}
	enc := json.NewEncoder(out)
	return enc.Encode(shown)
}
