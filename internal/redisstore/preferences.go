package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/preferences"
)

// Fields of the preferences hash that are not device ids (which cannot
// contain '@').
const (
	prefsTenantField  = "@tenant"
	prefsVersionField = "@version"
)

// PreferencesKey is tenant's preferences hash: "@tenant" the tenant's
// document, each device id its override, "@version" bumped by every write.
func PreferencesKey(prefix, tenant string) string { return prefix + ":{" + tenant + "}:prefs" }

// PreferencesStore implements preferences.Store.
type PreferencesStore struct {
	client redis.UniversalClient
	prefix string
}

// NewPreferencesStore wraps client ("" prefix: "gt").
func NewPreferencesStore(client redis.UniversalClient, prefix string) *PreferencesStore {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return &PreferencesStore{client: client, prefix: prefix}
}

// LoadPreferences reads every document of tenant.
func (p *PreferencesStore) LoadPreferences(ctx context.Context, tenant string) (preferences.Set, error) {
	if !ValidTenant(tenant) {
		return preferences.Set{}, fmt.Errorf("%w: tenant %q", ErrInvalidArgument, tenant)
	}
	all, err := p.client.HGetAll(ctx, PreferencesKey(p.prefix, tenant)).Result()
	if err != nil {
		return preferences.Set{}, markOutage(fmt.Errorf("read preferences: %w", err))
	}
	set := preferences.Set{Devices: map[string]preferences.Document{}}
	for field, raw := range all {
		switch field {
		case prefsVersionField:
			set.Version, _ = strconv.ParseInt(raw, 10, 64)
			continue
		}
		var d preferences.Document
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			return preferences.Set{}, fmt.Errorf("stored preferences %q of tenant %q: %w", field, tenant, err)
		}
		if field == prefsTenantField {
			set.Tenant = d
		} else {
			set.Devices[field] = d
		}
	}
	return set, nil
}

// SavePreferences stores one document and bumps the version atomically.
func (p *PreferencesStore) SavePreferences(ctx context.Context, tenant, device string, doc []byte) (int64, error) {
	if !ValidTenant(tenant) {
		return 0, fmt.Errorf("%w: tenant %q", ErrInvalidArgument, tenant)
	}
	field := device
	if field == "" {
		field = prefsTenantField
	}
	key := PreferencesKey(p.prefix, tenant)
	var v *redis.IntCmd
	_, err := p.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		if string(doc) == "{}" && device != "" {
			pipe.HDel(ctx, key, field) // an empty override is no override
		} else {
			pipe.HSet(ctx, key, field, doc)
		}
		v = pipe.HIncrBy(ctx, key, prefsVersionField, 1)
		return nil
	})
	if err != nil {
		return 0, markOutage(fmt.Errorf("save preferences: %w", err))
	}
	return v.Val(), nil
}

// AppConfigSentKey is tenant's hash of the app configuration last sent to
// each device.
func AppConfigSentKey(prefix, tenant string) string { return prefix + ":{" + tenant + "}:appcfg" }

// swapSentScript sets the device's field and returns the previous value in
// one step, so concurrent reports send a change once.
var swapSentScript = redis.NewScript(`
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return prev or ''`)

// SwapSent implements preferences.SentStore.
func (p *PreferencesStore) SwapSent(ctx context.Context, tenant, device, digest string) (string, error) {
	if !ValidTenant(tenant) {
		return "", fmt.Errorf("%w: tenant %q", ErrInvalidArgument, tenant)
	}
	prev, err := swapSentScript.Run(ctx, p.client, []string{AppConfigSentKey(p.prefix, tenant)}, device, digest).Text()
	if err != nil {
		return "", markOutage(fmt.Errorf("app configuration sent: %w", err))
	}
	return prev, nil
}

// SyncedPreferencesKey is where an edge node keeps its copy of the cloud's
// preferences (edge Redis, {edge} slot).
const SyncedPreferencesKey = "gt:{edge}:prefs"

// SyncedPreferences implements preferences.SyncedStore on the edge Redis.
type SyncedPreferences struct{ Client redis.UniversalClient }

// LoadSynced reads the copy; ok false when there is none.
func (s SyncedPreferences) LoadSynced(ctx context.Context) (preferences.Synced, bool, error) {
	raw, err := s.Client.Get(ctx, SyncedPreferencesKey).Bytes()
	if errors.Is(err, redis.Nil) {
		return preferences.Synced{}, false, nil
	}
	if err != nil {
		return preferences.Synced{}, false, markOutage(fmt.Errorf("read synced preferences: %w", err))
	}
	var c preferences.Synced
	if err := json.Unmarshal(raw, &c); err != nil {
		return preferences.Synced{}, false, fmt.Errorf("decode synced preferences: %w", err)
	}
	return c, true, nil
}

// SaveSynced replaces the copy.
func (s SyncedPreferences) SaveSynced(ctx context.Context, c preferences.Synced) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode synced preferences: %w", err)
	}
	if err := s.Client.Set(ctx, SyncedPreferencesKey, raw, 0).Err(); err != nil {
		return markOutage(fmt.Errorf("keep synced preferences: %w", err))
	}
	return nil
}
