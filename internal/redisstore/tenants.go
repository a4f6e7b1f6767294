package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Tenants lists every tenant that has devices, sorted: found by SCANning
// for the tenants' device sets on every master (nothing registers tenants
// on write). It is meant for background jobs such as the archiver.
func (s *Store) Tenants(ctx context.Context) ([]string, error) {
	prefix := s.opts.KeyPrefix + ":{"
	pattern := escapeGlob(prefix) + "*}:devices"
	var (
		tenants []string
		seen    = map[string]bool{}
	)
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			key := iter.Val()
			t, ok := strings.CutPrefix(key, prefix)
			if !ok {
				continue
			}
			t, ok = strings.CutSuffix(t, "}:devices")
			if ok && ValidTenant(t) && !seen[t] {
				seen[t] = true
				tenants = append(tenants, t)
			}
		}
		return iter.Err()
	}
	var err error
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		var mu = make(chan struct{}, 1)
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			mu <- struct{}{}
			defer func() { <-mu }()
			return scan(ctx, c)
		})
	} else {
		err = scan(ctx, s.client)
	}
	if err != nil {
		return nil, markOutage(fmt.Errorf("redisstore: list tenants: %w", err))
	}
	slices.Sort(tenants)
	return tenants, nil
}
