package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/guard"
	"github.com/geotrack/geotrack/internal/ratelimit"
)

// Keys of the tenant policies (guard.Policy): per tenant, the revoked token
// ids, the not-before instant and the limit overrides; across tenants, the
// set of tenants having any and a version counter every change bumps, which
// each process polls (guard.Cache) instead of reading the lists per request.
func revokedKey(prefix, tenant string) string   { return prefix + ":{" + tenant + "}:revoked" }   // ZSET jti → forget-after (unix ms)
func notBeforeKey(prefix, tenant string) string { return prefix + ":{" + tenant + "}:notbefore" } // STRING unix ms
func limitsKey(prefix, tenant string) string    { return prefix + ":{" + tenant + "}:limits" }    // HASH rate fields
func policyTenantsKey(prefix string) string     { return prefix + ":policy:tenants" }             // SET of tenants
func policyVersionKey(prefix string) string     { return prefix + ":policy:version" }             // INCR counter

// Fields of the limits hash.
const (
	limitTenantRate  = "tenant_rate"
	limitTenantBurst = "tenant_burst"
	limitDeviceRate  = "device_rate"
	limitDeviceBurst = "device_burst"
	limitFixesRate   = "tenant_fixes_rate"
	limitFixesBurst  = "tenant_fixes_burst"
)

// Policies stores the tenant policies; it implements guard.Source.
type Policies struct {
	client redis.UniversalClient
	prefix string
}

// NewPolicies wraps client ("" prefix: "gt").
func NewPolicies(client redis.UniversalClient, prefix string) *Policies {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return &Policies{client: client, prefix: prefix}
}

func checkTenant(tenant string) error {
	if !ValidTenant(tenant) {
		return fmt.Errorf("%w: tenant %q", ErrInvalidArgument, tenant)
	}
	return nil
}

// Revoke puts jti on tenant's deny list until now+keep (the longest a token
// lives), dropping entries already past theirs, so the list stays bounded.
func (s *Policies) Revoke(ctx context.Context, tenant, jti string, keep time.Duration, now time.Time) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	key := revokedKey(s.prefix, tenant)
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, key, redis.Z{Score: float64(now.Add(keep).UnixMilli()), Member: jti})
		p.ZRemRangeByScore(ctx, key, "-inf", "("+strconv.FormatInt(now.UnixMilli(), 10))
		p.PExpire(ctx, key, keep)
		return nil
	})
	if err != nil {
		return markOutage(fmt.Errorf("revoke token: %w", err))
	}
	return s.announce(ctx, tenant)
}

// SetNotBefore makes tenant refuse tokens issued before at, for keep (after
// which every such token has expired anyway).
func (s *Policies) SetNotBefore(ctx context.Context, tenant string, at time.Time, keep time.Duration) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	if err := s.client.Set(ctx, notBeforeKey(s.prefix, tenant), at.UnixMilli(), keep).Err(); err != nil {
		return markOutage(fmt.Errorf("set not_before: %w", err))
	}
	return s.announce(ctx, tenant)
}

// SetLimits stores tenant's rate overrides (zero rates: back to defaults);
// the quota overrides (SetQuota) in the same hash are left as they are.
func (s *Policies) SetLimits(ctx context.Context, tenant string, l guard.Limits) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	key := limitsKey(s.prefix, tenant)
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, key, limitTenantRate, limitTenantBurst, limitDeviceRate, limitDeviceBurst, limitFixesRate, limitFixesBurst)
		fields := map[string]any{}
		if l.Tenant.PerSecond > 0 {
			fields[limitTenantRate], fields[limitTenantBurst] = l.Tenant.PerSecond, l.Tenant.Burst
		}
		if l.Device.PerSecond > 0 {
			fields[limitDeviceRate], fields[limitDeviceBurst] = l.Device.PerSecond, l.Device.Burst
		}
		if l.TenantFixes.PerSecond > 0 {
			fields[limitFixesRate], fields[limitFixesBurst] = l.TenantFixes.PerSecond, l.TenantFixes.Burst
		}
		if len(fields) > 0 {
			p.HSet(ctx, key, fields)
		}
		return nil
	})
	if err != nil {
		return markOutage(fmt.Errorf("set limits: %w", err))
	}
	return s.announce(ctx, tenant)
}

// announce lists tenant among those with a policy and bumps the version,
// after the tenant's own keys changed (other slots: not in its MULTI). A
// failure here is healed by the caches' periodic full reload.
func (s *Policies) announce(ctx context.Context, tenant string) error {
	if err := s.client.SAdd(ctx, policyTenantsKey(s.prefix), tenant).Err(); err != nil {
		return markOutage(fmt.Errorf("announce policy: %w", err))
	}
	if err := s.client.Incr(ctx, policyVersionKey(s.prefix)).Err(); err != nil {
		return markOutage(fmt.Errorf("announce policy: %w", err))
	}
	return nil
}

// PolicyVersion implements guard.Source.
func (s *Policies) PolicyVersion(ctx context.Context) (int64, error) {
	v, err := s.client.Get(ctx, policyVersionKey(s.prefix)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, markOutage(fmt.Errorf("policy version: %w", err))
	}
	return v, nil
}

// Policy reads tenant's policy as of now.
func (s *Policies) Policy(ctx context.Context, tenant string, now time.Time) (guard.Policy, error) {
	if err := checkTenant(tenant); err != nil {
		return guard.Policy{}, err
	}
	all, err := s.load(ctx, []string{tenant}, now)
	if err != nil {
		return guard.Policy{}, err
	}
	return all[tenant], nil
}

// LoadPolicies implements guard.Source: one SMEMBERS and one pipeline of
// three reads per tenant with a policy. Tenants whose keys all expired are
// dropped from the set.
func (s *Policies) LoadPolicies(ctx context.Context, now time.Time) (map[string]guard.Policy, error) {
	tenants, err := s.client.SMembers(ctx, policyTenantsKey(s.prefix)).Result()
	if err != nil {
		return nil, markOutage(fmt.Errorf("list policy tenants: %w", err))
	}
	all, err := s.load(ctx, tenants, now)
	if err != nil {
		return nil, err
	}
	var gone []any
	for _, t := range tenants {
		if _, ok := all[t]; !ok {
			gone = append(gone, t)
		}
	}
	if len(gone) > 0 {
		// A concurrent write announces after writing, so it re-adds.
		_ = s.client.SRem(ctx, policyTenantsKey(s.prefix), gone...).Err()
	}
	return all, nil
}

func (s *Policies) load(ctx context.Context, tenants []string, now time.Time) (map[string]guard.Policy, error) {
	type reads struct {
		revoked   *redis.ZSliceCmd
		notBefore *redis.StringCmd
		limits    *redis.MapStringStringCmd
	}
	cmds := make([]reads, len(tenants))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, t := range tenants {
			cmds[i] = reads{
				revoked: p.ZRangeByScoreWithScores(ctx, revokedKey(s.prefix, t),
					&redis.ZRangeBy{Min: "(" + strconv.FormatInt(now.UnixMilli(), 10), Max: "+inf"}),
				notBefore: p.Get(ctx, notBeforeKey(s.prefix, t)),
				limits:    p.HGetAll(ctx, limitsKey(s.prefix, t)),
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, markOutage(fmt.Errorf("load policies: %w", err))
	}
	out := make(map[string]guard.Policy, len(tenants))
	for i, t := range tenants {
		var pol guard.Policy
		some := false
		if zs, err := cmds[i].revoked.Result(); err == nil && len(zs) > 0 {
			pol.Revoked = make(map[string]time.Time, len(zs))
			for _, z := range zs {
				pol.Revoked[z.Member.(string)] = time.UnixMilli(int64(z.Score))
			}
			some = true
		}
		if ms, err := cmds[i].notBefore.Int64(); err == nil {
			pol.NotBefore, some = time.UnixMilli(ms), true
		}
		if h, err := cmds[i].limits.Result(); err == nil && len(h) > 0 {
			pol.Limits = guard.Limits{
				Tenant:      ratelimit.Rate{PerSecond: parseFloat(h[limitTenantRate]), Burst: int(parseFloat(h[limitTenantBurst]))},
				Device:      ratelimit.Rate{PerSecond: parseFloat(h[limitDeviceRate]), Burst: int(parseFloat(h[limitDeviceBurst]))},
				TenantFixes: ratelimit.Rate{PerSecond: parseFloat(h[limitFixesRate]), Burst: int(parseFloat(h[limitFixesBurst]))},
			}
			some = true
		}
		if some {
			out[t] = pol
		}
	}
	return out, nil
}

func parseFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
