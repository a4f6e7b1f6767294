package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/geofence"
	"github.com/geotrack/geotrack/internal/poll"
)

// SyncMark is how far an edge node's copy of the cloud's fences and rules
// is: kept in the edge Redis, so a restarted node asks only for what changed.
type SyncMark struct {
	Tenant       string `json:"tenant"`
	FenceVersion int64  `json:"fence_version"` // the cloud's fence version the copy reflects
	RulesETag    string `json:"rules_etag"`
}

// SyncMarkStore persists the SyncMark (the edge Redis).
type SyncMarkStore interface {
	LoadMark(ctx context.Context) (SyncMark, bool, error)
	SaveMark(ctx context.Context, m SyncMark) error
}

// FenceReplica is where the copy of the fences goes: the edge's own fence
// store, whose versioned index the edge's detection reloads incrementally.
type FenceReplica interface {
	PutFences(ctx context.Context, tenant string, fences []geofence.Stored, quota int) error
	GetFence(ctx context.Context, tenant, id string) ([]byte, bool, error)
	ListFences(ctx context.Context, tenant, cursor string, limit int) ([][]byte, string, error)
	DeleteFence(ctx context.Context, tenant, id string) (bool, error)
}

// AlertSync pulls the tenant's fences and alert rules from the cloud into
// the edge Redis, as preferences.Syncer pulls the preferences: with the
// edge's service token, every Interval, keeping what it has when the cloud
// is away. Fences come incrementally (GET GEOFENCES_URL?since=<version>),
// rules as a whole set with an ETag (GET RULES_URL?all=true, secrets
// included: the edge signs the webhooks it delivers). Either URL may be "".
type AlertSync struct {
	FencesURL string
	RulesURL  string
	Token     string
	Interval  time.Duration
	Client    *http.Client
	Mark      SyncMarkStore
	Fences    FenceReplica
	Rules     alert.RuleStore
	// OnSynced is called after each pass that changed the copy (metrics).
	OnSynced func(SyncMark)

	mu   sync.Mutex // one pass at a time
	mark SyncMark
	have bool
}

// Current is the mark in force (ok false before the first sync or restore).
func (s *AlertSync) Current() (SyncMark, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mark, s.have
}

// Restore loads the persisted mark; call once before Run.
func (s *AlertSync) Restore(ctx context.Context) error {
	m, ok, err := s.Mark.LoadMark(ctx)
	if err != nil || !ok {
		return err
	}
	s.mu.Lock()
	s.mark, s.have = m, true
	s.mu.Unlock()
	return nil
}

// fenceChanges is the reply of GET geofences?since= (functions/geofences).
type fenceChanges struct {
	Tenant  string `json:"tenant"`
	Version int64  `json:"version"`
	Changes []struct {
		ID      string          `json:"id"`
		Feature json.RawMessage `json:"feature"`
	} `json:"changes"`
}

// syncedRules is the reply of GET rules?all=true (functions/rules).
type syncedRules struct {
	Tenant string       `json:"tenant"`
	Rules  []alert.Rule `json:"rules"`
}

// replicaQuota bounds nothing at the edge: the cloud enforced the quota.
const replicaQuota = 1 << 30

// fencePutChunk is how many fences one PutFences of the copy writes.
const fencePutChunk = 500

// SyncOnce brings the copy up to date; changed reports that it moved.
func (s *AlertSync) SyncOnce(ctx context.Context) (changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mark := s.mark
	if s.FencesURL != "" {
		c, err := s.syncFences(ctx, &mark)
		if err != nil {
			return false, err
		}
		changed = changed || c
	}
	if s.RulesURL != "" {
		c, err := s.syncRules(ctx, &mark)
		if err != nil {
			return changed, err
		}
		changed = changed || c
	}
	if mark != s.mark || !s.have {
		if err := s.Mark.SaveMark(ctx, mark); err != nil {
			return changed, err
		}
		s.mark, s.have = mark, true
	}
	if changed && s.OnSynced != nil {
		s.OnSynced(mark)
	}
	return changed, nil
}

func (s *AlertSync) get(ctx context.Context, url, etag string) (int, []byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if err != nil {
		return 0, nil, "", err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotModified {
		return resp.StatusCode, nil, "", fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return resp.StatusCode, body, resp.Header.Get("ETag"), nil
}

func (s *AlertSync) syncFences(ctx context.Context, mark *SyncMark) (bool, error) {
	since := mark.FenceVersion
	_, body, _, err := s.get(ctx, fmt.Sprintf("%s?since=%d", s.FencesURL, since), "")
	if err != nil {
		return false, fmt.Errorf("sync fences: %w", err)
	}
	var out fenceChanges
	if err := json.Unmarshal(body, &out); err != nil {
		return false, fmt.Errorf("sync fences: decode: %w", err)
	}
	if out.Tenant == "" {
		return false, fmt.Errorf("sync fences: the reply names no tenant")
	}
	if out.Tenant != mark.Tenant && mark.Tenant != "" {
		// Another tenant's token: start over (the old copy stays in the
		// old tenant's keys, where nothing reads it).
		*mark = SyncMark{Tenant: out.Tenant}
		return s.syncFences(ctx, mark)
	}
	if since > 0 && out.Version < since {
		// The cloud's version went back (its Redis lost the fences): take
		// everything again.
		mark.FenceVersion = 0
		return s.syncFences(ctx, mark)
	}
	mark.Tenant = out.Tenant
	if since > 0 && out.Version == since {
		return false, nil
	}
	var puts []geofence.Stored
	keep := map[string]bool{}
	for _, c := range out.Changes {
		if len(c.Feature) == 0 || string(c.Feature) == "null" {
			if _, err := s.Fences.DeleteFence(ctx, out.Tenant, c.ID); err != nil {
				return false, fmt.Errorf("sync fences: %w", err)
			}
			continue
		}
		keep[c.ID] = true
		puts = append(puts, geofence.Stored{ID: c.ID, Feature: c.Feature})
	}
	for chunk := range slices.Chunk(puts, fencePutChunk) {
		if err := s.Fences.PutFences(ctx, out.Tenant, chunk, replicaQuota); err != nil {
			return false, fmt.Errorf("sync fences: %w", err)
		}
	}
	if since == 0 {
		// A whole snapshot: what the copy has beyond it was deleted.
		if err := s.dropFencesBut(ctx, out.Tenant, keep); err != nil {
			return false, err
		}
	}
	mark.FenceVersion = out.Version
	return true, nil
}

func (s *AlertSync) dropFencesBut(ctx context.Context, tenant string, keep map[string]bool) error {
	var stale []string
	cursor := ""
	for {
		page, next, err := s.Fences.ListFences(ctx, tenant, cursor, 1000)
		if err != nil {
			return fmt.Errorf("sync fences: %w", err)
		}
		for _, f := range page {
			var probe struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(f, &probe) == nil && probe.ID != "" && !keep[probe.ID] {
				stale = append(stale, probe.ID)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	for _, id := range stale {
		if _, err := s.Fences.DeleteFence(ctx, tenant, id); err != nil {
			return fmt.Errorf("sync fences: %w", err)
		}
	}
	return nil
}

func (s *AlertSync) syncRules(ctx context.Context, mark *SyncMark) (bool, error) {
	status, body, etag, err := s.get(ctx, s.RulesURL+"?all=true", mark.RulesETag)
	if err != nil {
		return false, fmt.Errorf("sync rules: %w", err)
	}
	if status == http.StatusNotModified {
		return false, nil
	}
	var out syncedRules
	if err := json.Unmarshal(body, &out); err != nil {
		return false, fmt.Errorf("sync rules: decode: %w", err)
	}
	if out.Tenant == "" {
		return false, fmt.Errorf("sync rules: the reply names no tenant")
	}
	have, err := s.Rules.ListRules(ctx, out.Tenant)
	if err != nil {
		return false, fmt.Errorf("sync rules: %w", err)
	}
	old := map[string]alert.Rule{}
	for _, r := range have {
		old[r.ID] = r
	}
	for _, r := range out.Rules {
		if prev, ok := old[r.ID]; ok && sameRule(prev, r) {
			delete(old, r.ID)
			continue // unchanged: its threshold state stays
		}
		delete(old, r.ID)
		if err := s.Rules.PutRule(ctx, out.Tenant, r); err != nil {
			return false, fmt.Errorf("sync rules: rule %s: %w", r.ID, err)
		}
	}
	for id := range old {
		if err := s.Rules.DeleteRule(ctx, out.Tenant, id); err != nil {
			return false, fmt.Errorf("sync rules: delete %s: %w", id, err)
		}
	}
	if mark.Tenant == "" {
		mark.Tenant = out.Tenant
	}
	mark.RulesETag = etag
	return true, nil
}

func sameRule(a, b alert.Rule) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// Run syncs every Interval until ctx ends; failures keep the copy in force.
func (s *AlertSync) Run(ctx context.Context, log *slog.Logger) {
	poll.Every(ctx, s.Interval, func(ctx context.Context) {
		changed, err := s.SyncOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("fence and rule sync failed; keeping the copy in force", "err", err)
		case changed:
			m, _ := s.Current()
			log.Info("fences and rules synced", "tenant", m.Tenant, "fence_version", m.FenceVersion)
		}
	})
}
