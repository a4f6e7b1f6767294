package geofence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Stored is one fence as the store keeps it: its id and its Feature JSON
// (Encode).
type Stored struct {
	ID      string
	Feature []byte
}

// ErrQuota is wrapped by Store.PutFences when the tenant would hold more
// fences than its quota.
var ErrQuota = errors.New("fence quota exceeded")

// Store keeps a tenant's fences; every change bumps the tenant's fence
// version, which detection replicas poll (internal/redisstore implements it).
type Store interface {
	// PutFences creates or replaces fences atomically, refusing (ErrQuota)
	// when the tenant would then hold more than quota fences.
	PutFences(ctx context.Context, tenant string, fences []Stored, quota int) error
	GetFence(ctx context.Context, tenant, id string) ([]byte, bool, error)
	// ListFences pages through the fences in id order, after cursor ("" =
	// from the start); next is "" on the last page.
	ListFences(ctx context.Context, tenant, cursor string, limit int) (features [][]byte, next string, err error)
	DeleteFence(ctx context.Context, tenant, id string) (bool, error)
}

// QuotaOverrides reads the operator's per-tenant fence quota (0: none; set
// with geotrack limits --fences), which wins over Service.Quota.
type QuotaOverrides interface {
	FenceQuota(ctx context.Context, tenant string) (int, error)
}

// Service manages fences: validation, ids, quota.
type Service struct {
	Store Store
	Quota int // fences per tenant (DefaultQuota when 0)
	// Overrides, when set, gives a tenant's own quota.
	Overrides QuotaOverrides
	// Changes is the versioned change log an edge node syncs from (GET
	// ?since=); nil refuses that read.
	Changes FenceSource
}

// ErrNoChangeLog is returned by ChangesSince when the Service has none.
var ErrNoChangeLog = errors.New("no fence change log")

// ChangesSince returns the fences changed after version since (all of them
// for 0; a nil Feature for a deleted one) and the version they bring the
// reader to: what an edge node applies to its copy.
func (s *Service) ChangesSince(ctx context.Context, tenant string, since int64) ([]Stored, int64, error) {
	if s.Changes == nil {
		return nil, 0, ErrNoChangeLog
	}
	if since < 0 {
		return nil, 0, fieldErr("since", "must be a fence version (>= 0)")
	}
	return s.Changes.FenceChanges(ctx, tenant, since)
}

// Create stores the fences of a Feature or FeatureCollection: a Feature with
// an id replaces the fence of that id, one without gets a new id. It
// returns the ids in input order.
func (s *Service) Create(ctx context.Context, tenant string, body []byte) ([]string, error) {
	fences, err := Decode(body)
	if err != nil {
		return nil, err
	}
	return s.put(ctx, tenant, fences, isCollection(body))
}

// Replace stores body (one Feature) as the fence id.
func (s *Service) Replace(ctx context.Context, tenant, id string, body []byte) error {
	if !ValidID(id) {
		return fieldErr("id", "%q: want 1-%d characters of A-Z a-z 0-9 . _ : -", clipText(id), MaxIDLen)
	}
	fences, err := Decode(body)
	if err != nil {
		return err
	}
	if len(fences) != 1 || isCollection(body) {
		return fieldErr("type", `PUT takes one "Feature"`)
	}
	if fences[0].ID != "" && fences[0].ID != id {
		return fieldErr("id", "the Feature's id %q differs from ?id=%q", fences[0].ID, id)
	}
	fences[0].ID = id
	_, err = s.put(ctx, tenant, fences, false)
	return err
}

func (s *Service) put(ctx context.Context, tenant string, fences []Fence, collection bool) ([]string, error) {
	stored := make([]Stored, len(fences))
	ids := make([]string, len(fences))
	for i := range fences {
		if fences[i].ID == "" {
			fences[i].ID = newID()
		}
		b, err := Encode(&fences[i])
		if err != nil {
			return nil, err
		}
		stored[i], ids[i] = Stored{ID: fences[i].ID, Feature: b}, fences[i].ID
	}
	quota := s.Quota
	if quota <= 0 {
		quota = DefaultQuota
	}
	source := "GEOFENCE_QUOTA"
	if s.Overrides != nil {
		own, err := s.Overrides.FenceQuota(ctx, tenant)
		if err != nil {
			return nil, fmt.Errorf("fence quota: %w", err)
		}
		if own > 0 {
			quota, source = own, "the fence quota of tenant "+tenant
		}
	}
	if err := s.Store.PutFences(ctx, tenant, stored, quota); err != nil {
		if errors.Is(err, ErrQuota) {
			field := "body"
			if collection {
				field = "features"
			}
			if source == "GEOFENCE_QUOTA" {
				return nil, fieldErr(field, "%v (GEOFENCE_QUOTA is %d per tenant)", err, quota)
			}
			return nil, fieldErr(field, "%v (%s is %d)", err, source, quota)
		}
		return nil, fmt.Errorf("store fences: %w", err)
	}
	return ids, nil
}

// Get returns one fence's Feature JSON, or false.
func (s *Service) Get(ctx context.Context, tenant, id string) ([]byte, bool, error) {
	if !ValidID(id) {
		return nil, false, fieldErr("id", "%q: want 1-%d characters of A-Z a-z 0-9 . _ : -", clipText(id), MaxIDLen)
	}
	return s.Store.GetFence(ctx, tenant, id)
}

// List pages through the tenant's fences.
func (s *Service) List(ctx context.Context, tenant, cursor string, limit int) ([][]byte, string, error) {
	if cursor != "" && !ValidID(cursor) {
		return nil, "", fieldErr("cursor", "not a cursor this function returned")
	}
	return s.Store.ListFences(ctx, tenant, cursor, limit)
}

// Delete removes a fence; false when there was none.
func (s *Service) Delete(ctx context.Context, tenant, id string) (bool, error) {
	if !ValidID(id) {
		return false, fieldErr("id", "%q: want 1-%d characters of A-Z a-z 0-9 . _ : -", clipText(id), MaxIDLen)
	}
	return s.Store.DeleteFence(ctx, tenant, id)
}

func isCollection(body []byte) bool {
	var probe struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &probe)
	return probe.Type == "FeatureCollection"
}

// newID is a server-assigned fence id: 16 random hex digits.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "f-" + hex.EncodeToString(b[:])
}
