package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/fix"
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

// maxTenantLen is the longest tenant name the stores accept.
const maxTenantLen = 256

// decodeFenceChanges decodes and checks a reply of GET geofences?since=.
// Errors are *fix.FieldError naming the reply's field: a reply that does
// not decode changes nothing in the copy.
func decodeFenceChanges(body []byte) (fenceChanges, error) {
	var out fenceChanges
	if err := json.Unmarshal(body, &out); err != nil {
		return fenceChanges{}, &fix.FieldError{Field: "body", Msg: err.Error()}
	}
	if err := checkSyncedTenant(out.Tenant); err != nil {
		return fenceChanges{}, err
	}
	if out.Version < 0 {
		return fenceChanges{}, &fix.FieldError{Field: "version", Msg: "negative"}
	}
	for i, c := range out.Changes {
		if c.ID == "" || len(c.ID) > 256 || !utf8.ValidString(c.ID) {
			return fenceChanges{}, &fix.FieldError{Field: fmt.Sprintf("changes[%d].id", i), Msg: "not a fence id"}
		}
		if f := bytes.TrimSpace(c.Feature); len(f) > 0 && string(f) != "null" && f[0] != '{' {
			return fenceChanges{}, &fix.FieldError{Field: fmt.Sprintf("changes[%d].feature", i), Msg: "not a GeoJSON Feature object or null"}
		}
	}
	return out, nil
}

// decodeSyncedRules decodes and checks a reply of GET rules?all=true:
// every rule valid (alert.Rule.ValidateSynced) and each id once. Errors
// are *fix.FieldError naming the reply's field.
func decodeSyncedRules(body []byte) (syncedRules, error) {
	var out syncedRules
	if err := json.Unmarshal(body, &out); err != nil {
		return syncedRules{}, &fix.FieldError{Field: "body", Msg: err.Error()}
	}
	if err := checkSyncedTenant(out.Tenant); err != nil {
		return syncedRules{}, err
	}
	seen := make(map[string]bool, len(out.Rules))
	for i, r := range out.Rules {
		if err := r.ValidateSynced(); err != nil {
			var fe *fix.FieldError
			if errors.As(err, &fe) {
				return syncedRules{}, &fix.FieldError{Field: fmt.Sprintf("rules[%d].%s", i, fe.Field), Msg: fe.Msg}
			}
			return syncedRules{}, &fix.FieldError{Field: fmt.Sprintf("rules[%d]", i), Msg: err.Error()}
		}
		if seen[r.ID] {
			return syncedRules{}, &fix.FieldError{Field: fmt.Sprintf("rules[%d].id", i), Msg: "listed twice"}
		}
		seen[r.ID] = true
	}
	return out, nil
}

func checkSyncedTenant(tenant string) error {
	if tenant == "" {
		return &fix.FieldError{Field: "tenant", Msg: "the reply names no tenant"}
	}
	if len(tenant) > maxTenantLen || !utf8.ValidString(tenant) || strings.ContainsAny(tenant, "{}") {
		return &fix.FieldError{Field: "tenant", Msg: "not a tenant name"}
	}
	return nil
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

// get is one pull: a whole fence snapshot may be large (1 GiB, 60 s).
func (s *AlertSync) get(ctx context.Context, url, etag string) (poll.CloudReply, error) {
	return poll.CloudRequest{URL: url, Token: s.Token, ETag: etag, MaxBytes: 1 << 30, Timeout: 60 * time.Second, Client: s.Client}.Do(ctx)
}

func (s *AlertSync) syncFences(ctx context.Context, mark *SyncMark) (bool, error) {
	since := mark.FenceVersion
	reply, err := s.get(ctx, fmt.Sprintf("%s?since=%d", s.FencesURL, since), "")
	if err != nil {
		return false, fmt.Errorf("sync fences: %w", err)
	}
	out, err := decodeFenceChanges(reply.Body)
	if err != nil {
		return false, fmt.Errorf("sync fences: decode: %w", err)
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
	reply, err := s.get(ctx, s.RulesURL+"?all=true", mark.RulesETag)
	if err != nil {
		return false, fmt.Errorf("sync rules: %w", err)
	}
	if reply.NotModified {
		return false, nil
	}
	out, err := decodeSyncedRules(reply.Body)
	if err != nil {
		return false, fmt.Errorf("sync rules: decode: %w", err)
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
	mark.RulesETag = reply.ETag
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
