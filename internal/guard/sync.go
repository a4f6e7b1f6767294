package guard

// This file: an edge node's copy of the cloud's revocations (issue 12 §3).
// An edge's functions check tokens against the policies in the edge's own
// Redis; RevocationSync pulls the tenant's deny list and "not before"
// instant from the cloud's tokens function and writes them there, where
// the edge's Cache picks them up on its next poll.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/poll"
)

// RevocationList is the body of the cloud's GET tokens?sync=true.
type RevocationList struct {
	Tenant  string `json:"tenant"`
	Revoked []struct {
		TokenID string    `json:"jti"`
		Until   time.Time `json:"kept_until"`
	} `json:"revoked"`
	NotBefore *time.Time `json:"not_before,omitempty"`
}

// DecodeRevocationList reads and checks a revocation list from the cloud.
func DecodeRevocationList(body []byte) (RevocationList, error) {
	var l RevocationList
	if err := json.Unmarshal(body, &l); err != nil {
		return RevocationList{}, fmt.Errorf("revocation list: %w", err)
	}
	if l.Tenant == "" {
		return RevocationList{}, fmt.Errorf("revocation list: tenant: missing")
	}
	for i, r := range l.Revoked {
		if !auth.ValidTokenID(r.TokenID) {
			return RevocationList{}, fmt.Errorf("revocation list: revoked[%d].jti: not a token id", i)
		}
		if r.Until.IsZero() {
			return RevocationList{}, fmt.Errorf("revocation list: revoked[%d].kept_until: missing", i)
		}
	}
	if l.NotBefore != nil && l.NotBefore.IsZero() {
		return RevocationList{}, fmt.Errorf("revocation list: not_before: zero")
	}
	return l, nil
}

// RevocationStore is the edge's Redis as the sync needs it
// (redisstore.Policies).
type RevocationStore interface {
	Policy(ctx context.Context, tenant string, now time.Time) (Policy, error)
	Revoke(ctx context.Context, tenant, jti string, keep time.Duration, now time.Time) error
	SetNotBefore(ctx context.Context, tenant string, at time.Time, keep time.Duration) error
}

// RevocationSync pulls the tenant's revocations from the cloud's tokens
// function (URL, with the node's service token) every Interval.
type RevocationSync struct {
	URL      string
	Token    string
	Interval time.Duration
	// Keep is how long a synced "not before" is kept (the longest a token
	// lives); revoked ids are kept as long as the cloud keeps them.
	Keep   time.Duration
	Client *http.Client
	Store  RevocationStore
	now    func() time.Time
}

// SyncOnce pulls the list and writes what the edge does not have yet; it
// returns how many entries it wrote.
func (s *RevocationSync) SyncOnce(ctx context.Context) (int, error) {
	now := time.Now()
	if s.now != nil {
		now = s.now()
	}
	body, err := s.get(ctx)
	if err != nil {
		return 0, err
	}
	list, err := DecodeRevocationList(body)
	if err != nil {
		return 0, err
	}
	have, err := s.Store.Policy(ctx, list.Tenant, now)
	if err != nil {
		return 0, fmt.Errorf("read the edge's revocations: %w", err)
	}
	// One keep for every id: the deny list's key expires with the last
	// write, so a shorter keep would shorten the others'.
	var keep time.Duration
	for _, r := range list.Revoked {
		keep = max(keep, r.Until.Sub(now))
	}
	wrote := 0
	for _, r := range list.Revoked {
		if _, ok := have.Revoked[r.TokenID]; ok || !r.Until.After(now) {
			continue
		}
		if err := s.Store.Revoke(ctx, list.Tenant, r.TokenID, keep, now); err != nil {
			return wrote, fmt.Errorf("store revocation %s: %w", r.TokenID, err)
		}
		wrote++
	}
	if nb := list.NotBefore; nb != nil && !nb.Equal(have.NotBefore) && nb.After(have.NotBefore) {
		if err := s.Store.SetNotBefore(ctx, list.Tenant, *nb, s.Keep); err != nil {
			return wrote, fmt.Errorf("store not_before: %w", err)
		}
		wrote++
	}
	return wrote, nil
}

func (s *RevocationSync) get(ctx context.Context) ([]byte, error) {
	reply, err := poll.CloudRequest{URL: s.URL + "?sync=true", Token: s.Token, MaxBytes: 8 << 20, Client: s.Client}.Do(ctx)
	if err != nil {
		return nil, fmt.Errorf("revocation sync: %w", err)
	}
	return reply.Body, nil
}

// Run syncs every Interval until ctx ends.
func (s *RevocationSync) Run(ctx context.Context, log *slog.Logger) {
	poll.Every(ctx, s.Interval, func(ctx context.Context) {
		n, err := s.SyncOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("revocation sync failed; retrying", "err", err)
		case n > 0:
			log.Info("cloud revocations stored on the edge", "count", n)
		}
	})
}
