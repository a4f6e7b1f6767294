package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Quotas are a tenant's overrides of the resource quotas (0: the default of
// the function's environment). They live in the tenant's limits hash next to
// the rate overrides, so save.lua reads the device quota in its own slot.
type Quotas struct {
	Devices int // devices the tenant may hold (DEVICE_QUOTA)
	Fences  int // fences (GEOFENCE_QUOTA)
	Rules   int // alert rules (MaxRules)
}

// Fields of the limits hash holding Quotas; "devices" is read by save.lua.
const (
	quotaDevices = "devices"
	quotaFences  = "fences"
	quotaRules   = "rules"
)

// QuotaField names a quota for SetQuota.
type QuotaField string

// The quotas an operator may override.
const (
	QuotaDevices QuotaField = quotaDevices
	QuotaFences  QuotaField = quotaFences
	QuotaRules   QuotaField = quotaRules
)

// SetQuota sets one of tenant's quota overrides; n = 0 removes it (back to
// the default). The rate overrides are left as they are.
func (s *Policies) SetQuota(ctx context.Context, tenant string, field QuotaField, n int) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	switch field {
	case QuotaDevices, QuotaFences, QuotaRules:
	default:
		return fmt.Errorf("%w: quota %q (want devices, fences or rules)", ErrInvalidArgument, field)
	}
	if n < 0 {
		return fmt.Errorf("%w: %s quota %d is negative", ErrInvalidArgument, field, n)
	}
	key := limitsKey(s.prefix, tenant)
	var err error
	if n == 0 {
		err = s.client.HDel(ctx, key, string(field)).Err()
	} else {
		err = s.client.HSet(ctx, key, string(field), n).Err()
	}
	if err != nil {
		return markOutage(fmt.Errorf("set %s quota: %w", field, err))
	}
	return s.announce(ctx, tenant)
}

// Quotas reads tenant's quota overrides.
func (s *Policies) Quotas(ctx context.Context, tenant string) (Quotas, error) {
	return readQuotas(ctx, s.client, limitsKey(s.prefix, tenant), tenant)
}

// FenceQuota is tenant's fence quota override (0: none); it implements
// geofence.QuotaOverrides.
func (s *Store) FenceQuota(ctx context.Context, tenant string) (int, error) {
	q, err := readQuotas(ctx, s.client, limitsKey(s.opts.KeyPrefix, tenant), tenant)
	return q.Fences, err
}

func readQuotas(ctx context.Context, client redis.UniversalClient, key, tenant string) (Quotas, error) {
	if err := checkTenant(tenant); err != nil {
		return Quotas{}, err
	}
	vals, err := client.HMGet(ctx, key, quotaDevices, quotaFences, quotaRules).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return Quotas{}, markOutage(fmt.Errorf("read quotas of tenant %q: %w", tenant, err))
	}
	n := func(v any) int {
		s, _ := v.(string)
		i, _ := strconv.Atoi(s)
		return max(i, 0)
	}
	return Quotas{Devices: n(vals[0]), Fences: n(vals[1]), Rules: n(vals[2])}, nil
}
