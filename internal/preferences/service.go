package preferences

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/geotrack/geotrack/internal/edgefilter"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/geo"
	"github.com/geotrack/geotrack/internal/trips"
)

// Set is all of a tenant's preferences at one version.
type Set struct {
	TenantID string              `json:"tenant_id,omitempty"`
	Version  int64               `json:"version"`
	Tenant   Document            `json:"tenant"`
	Devices  map[string]Document `json:"devices"`
}

// For is device's effective preferences.
func (s Set) For(device string) Effective {
	return Resolve(s.Tenant, s.Devices[device], edgefilter.DefaultSettings())
}

// ETag is the set's entity tag.
func (s Set) ETag() string { return fmt.Sprintf(`"%d"`, s.Version) }

// Store keeps the documents. Device "" is the tenant's document.
type Store interface {
	LoadPreferences(ctx context.Context, tenant string) (Set, error)
	// SavePreferences stores the document (JSON) and returns the new version.
	SavePreferences(ctx context.Context, tenant, device string, doc []byte) (int64, error)
}

// Service reads and writes preferences, and answers the effective settings
// of a device from a short-lived per-tenant cache (the ingest path asks for
// every request; a change applies within CacheTTL).
type Service struct {
	store Store
	ttl   time.Duration
	now   func() time.Time
	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	set Set
	at  time.Time
}

// DefaultCacheTTL is how long a tenant's preferences are reused.
const DefaultCacheTTL = 2 * time.Second

// NewService returns the service; ttl ≤ 0 takes DefaultCacheTTL.
func NewService(store Store, ttl time.Duration) *Service {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	return &Service{store: store, ttl: ttl, now: time.Now, cache: map[string]cached{}}
}

// Load returns tenant's set, from the store.
func (s *Service) Load(ctx context.Context, tenant string) (Set, error) {
	set, err := s.store.LoadPreferences(ctx, tenant)
	if err != nil {
		return Set{}, fmt.Errorf("read preferences: %w", err)
	}
	s.mu.Lock()
	s.cache[tenant] = cached{set: set, at: s.now()}
	s.mu.Unlock()
	return set, nil
}

// Put validates and stores device's document ("" = the tenant's).
func (s *Service) Put(ctx context.Context, tenant, device string, body []byte) (Document, int64, error) {
	if device != "" {
		if err := fix.ValidateDevice("device", device); err != nil {
			return Document{}, 0, err
		}
	}
	doc, err := Decode(body)
	if err != nil {
		return Document{}, 0, err
	}
	canonical, err := json.Marshal(doc)
	if err != nil {
		return Document{}, 0, fmt.Errorf("encode preferences: %w", err)
	}
	v, err := s.store.SavePreferences(ctx, tenant, device, canonical)
	if err != nil {
		return Document{}, 0, fmt.Errorf("save preferences: %w", err)
	}
	s.mu.Lock()
	delete(s.cache, tenant)
	s.mu.Unlock()
	return doc, v, nil
}

// Current returns tenant's set from the cache, reloading it when older
// than the TTL.
func (s *Service) Current(ctx context.Context, tenant string) (Set, error) {
	s.mu.Lock()
	c, ok := s.cache[tenant]
	s.mu.Unlock()
	if ok && s.now().Sub(c.at) < s.ttl {
		return c.set, nil
	}
	return s.Load(ctx, tenant)
}

// Effective is device's effective preferences (cached).
func (s *Service) Effective(ctx context.Context, tenant, device string) (Effective, error) {
	set, err := s.Current(ctx, tenant)
	if err != nil {
		return Effective{}, err
	}
	return set.For(device), nil
}

// TripRules implements movement.RulesSource.
func (s *Service) TripRules(ctx context.Context, tenant, device string) (trips.Rules, error) {
	e, err := s.Effective(ctx, tenant, device)
	if err != nil {
		return trips.Rules{}, err
	}
	return e.Trips, nil
}

// Reasons a fix is dropped because of preferences (metric label and the
// ingest reply's dropped keys; public contract).
const (
	ReasonPaused      = "paused"
	ReasonPrivacyZone = "privacy_zone"
	// ReasonRetention: older than the device's own (shorter) retention.
	ReasonRetention = "retention"
)

// RetentionFor is device's hot history retention preference (0: none).
func (s Set) RetentionFor(device string) time.Duration {
	for _, r := range []string{s.Devices[device].Retention, s.Tenant.Retention} {
		if r != "" {
			d, _ := time.ParseDuration(r)
			return d
		}
	}
	return 0
}

// Retention is device's retention preference (0: the store's own).
func (s *Service) Retention(ctx context.Context, tenant, device string) (time.Duration, error) {
	set, err := s.Current(ctx, tenant)
	if err != nil {
		return 0, err
	}
	return set.RetentionFor(device), nil
}

// Gate says whether preferences keep f out: ReasonPaused when its device's
// tracking is paused, ReasonPrivacyZone when it lies in one of its zones,
// "" to keep it. It is cheap (no filter decoding): it runs for every fix.
func (s Set) Gate(f fix.Fix) string {
	dev, hasDev := s.Devices[f.Device]
	paused := s.Tenant.Tracking == TrackingPaused
	if hasDev && dev.Tracking != "" {
		paused = dev.Tracking == TrackingPaused
	}
	if paused {
		return ReasonPaused
	}
	p := geo.Point{Lat: f.Lat, Lon: f.Lon}
	if _, in := InZone(s.Tenant.PrivacyZones, p); in {
		return ReasonPrivacyZone
	}
	if _, in := InZone(dev.PrivacyZones, p); hasDev && in {
		return ReasonPrivacyZone
	}
	return ""
}

// Gate is Set.Gate over tenant's current (cached) preferences, plus the
// device's retention: a fix it would delete at once is not stored.
func (s *Service) Gate(ctx context.Context, tenant string, f fix.Fix) (string, error) {
	set, err := s.Current(ctx, tenant)
	if err != nil {
		return "", err
	}
	if reason := set.Gate(f); reason != "" {
		return reason, nil
	}
	if r := set.RetentionFor(f.Device); r > 0 && f.TS.Before(s.now().Add(-r)) {
		return ReasonRetention, nil
	}
	return "", nil
}
