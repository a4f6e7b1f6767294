package preferences

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/geotrack/geotrack/internal/edgefilter"
	"github.com/geotrack/geotrack/internal/poll"
)

// Synced is the copy of a tenant's preferences an edge node runs with.
type Synced struct {
	Tenant string `json:"tenant"`
	ETag   string `json:"etag"`
	Set    Set    `json:"set"`
}

// SyncedStore persists the edge's copy (the edge Redis), so a restarted
// node applies the last preferences it had even while the cloud is away.
type SyncedStore interface {
	LoadSynced(ctx context.Context) (Synced, bool, error)
	SaveSynced(ctx context.Context, s Synced) error
}

// Syncer pulls the tenant's preferences from the cloud (GET
// PREFERENCES_URL?all=true with the edge's service token, If-None-Match the
// copy's ETag) every Interval and keeps the copy in memory and in a
// SyncedStore.
type Syncer struct {
	URL      string
	Token    string
	Interval time.Duration
	Client   *http.Client
	Store    SyncedStore
	// OnChange is called with each new copy (metrics).
	OnChange func(Synced)

	mu      sync.RWMutex
	current Synced
	ok      bool
	filters map[string]filterMemo // per device, for current.Set.Version
}

// Restore loads the persisted copy; call once before Run.
func (s *Syncer) Restore(ctx context.Context) error {
	c, ok, err := s.Store.LoadSynced(ctx)
	if err != nil || !ok {
		return err
	}
	s.set(c)
	return nil
}

func (s *Syncer) set(c Synced) {
	s.mu.Lock()
	s.current, s.ok, s.filters = c, true, nil
	s.mu.Unlock()
	if s.OnChange != nil {
		s.OnChange(c)
	}
}

// Current is the copy in force; ok false before the first successful sync
// (and with nothing persisted).
func (s *Syncer) Current() (Synced, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.current, s.ok
}

// For returns tenant's set when the copy is that tenant's.
func (s *Syncer) For(tenant string) (Set, bool) {
	c, ok := s.Current()
	if !ok || c.Tenant != tenant {
		return Set{}, false
	}
	return c.Set, true
}

// SyncOnce asks the cloud for a newer copy; changed reports a new one.
func (s *Syncer) SyncOnce(ctx context.Context) (changed bool, err error) {
	cur, have := s.Current()
	pull := poll.CloudRequest{URL: s.URL + "?all=true", Token: s.Token, MaxBytes: 32 << 20, Client: s.Client}
	if have {
		pull.ETag = cur.ETag
	}
	reply, err := pull.Do(ctx)
	if err != nil {
		return false, fmt.Errorf("sync preferences: %w", err)
	}
	if reply.NotModified {
		return false, nil
	}
	out, err := DecodeSyncedSet(reply.Body)
	if err != nil {
		return false, fmt.Errorf("sync preferences: %w", err)
	}
	c := Synced{Tenant: out.TenantID, ETag: reply.ETag, Set: out}
	if c.Set.Devices == nil {
		c.Set.Devices = map[string]Document{}
	}
	// Persist first: what runs is always what a restart would restore.
	if err := s.Store.SaveSynced(ctx, c); err != nil {
		return false, fmt.Errorf("keep synced preferences: %w", err)
	}
	s.set(c)
	return true, nil
}

// DecodeSyncedSet reads and checks the reply of GET preferences?all=true:
// the tenant's document and every device's valid.
func DecodeSyncedSet(body []byte) (Set, error) {
	var out Set
	if err := json.Unmarshal(body, &out); err != nil {
		return Set{}, fmt.Errorf("decode: %w", err)
	}
	for dev, d := range out.Devices {
		if err := d.Validate(); err != nil {
			return Set{}, fmt.Errorf("device %s: %w", dev, err)
		}
	}
	if err := out.Tenant.Validate(); err != nil {
		return Set{}, fmt.Errorf("tenant document: %w", err)
	}
	return out, nil
}

// Run syncs every Interval until ctx ends; failures keep the copy in force.
func (s *Syncer) Run(ctx context.Context, log *slog.Logger) {
	poll.Every(ctx, s.Interval, func(ctx context.Context) {
		changed, err := s.SyncOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("preferences sync failed; keeping the copy in force", "err", err)
		case changed:
			c, _ := s.Current()
			log.Info("preferences synced", "tenant", c.Tenant, "version", c.Set.Version)
		}
	})
}

type filterMemo struct {
	settings edgefilter.Settings
	set      bool
}

// FilterFor is device's filter settings from the copy, over base (the
// node's EDGE_FILTER_SETTINGS); ok false when the copy sets none for it
// (then the node's own settings apply). Resolved once per copy version.
func (s *Syncer) FilterFor(tenant, device string, base edgefilter.Settings) (edgefilter.Settings, bool) {
	s.mu.RLock()
	c, ok := s.current, s.ok && s.current.Tenant == tenant
	m, memo := s.filters[device]
	s.mu.RUnlock()
	if !ok {
		return base, false
	}
	if memo {
		return m.settings, m.set
	}
	m = filterMemo{settings: base}
	for _, d := range []Document{c.Set.Tenant, c.Set.Devices[device]} {
		if len(d.Filter) > 0 {
			if st, err := FilterSettings(m.settings, d.Filter); err == nil {
				m.settings, m.set = st, true
			}
		}
	}
	s.mu.Lock()
	if s.current.Set.Version == c.Set.Version {
		if s.filters == nil {
			s.filters = map[string]filterMemo{}
		}
		s.filters[device] = m
	}
	s.mu.Unlock()
	return m.settings, m.set
}

// Effective is device's effective preferences from the copy: the built-in
// defaults when the node has no copy of tenant's (nothing to apply yet).
func (s *Syncer) Effective(_ context.Context, tenant, device string) (Effective, error) {
	set, ok := s.For(tenant)
	if !ok {
		return Resolve(Document{}, Document{}, edgefilter.DefaultSettings()), nil
	}
	return set.For(device), nil
}
