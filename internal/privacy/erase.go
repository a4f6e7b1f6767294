package privacy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/geotrack/geotrack/internal/geofence"
)

// Receipt states.
const (
	StateRunning = "running"
	StateDone    = "done"
	StateFailed  = "failed"
)

// Tiers of a receipt.
const (
	TierCloud   = "cloud"   // the hot store: history, latest position, state, events, alerts, preferences
	TierFences  = "fences"  // fences whose devices list named the device
	TierArchive = "archive" // archived Parquet objects
	TierRules   = "rules"   // alert rules whose devices list named the device
)

// Receipt is the record of one erasure. It names the device only by its
// digest (DeviceDigest), so it can outlive the data.
type Receipt struct {
	ID           string          `json:"id"`
	Tenant       string          `json:"tenant"`
	DeviceSHA256 string          `json:"device_sha256"`
	ErasedBefore time.Time       `json:"erased_before"` // fixes older than this arriving later are dropped
	State        string          `json:"state"`
	Tiers        map[string]Tier `json:"tiers"`
	FinishedAt   *time.Time      `json:"finished_at,omitempty"`
}

// Tier is the progress of a receipt in one tier.
type Tier struct {
	State   string         `json:"state"`
	Removed map[string]int `json:"removed,omitempty"` // what went, by kind
	Error   string         `json:"error,omitempty"`
}

// receiptPattern is an id Erase hands out.
var receiptPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ValidReceiptID reports whether id can be a receipt id.
func ValidReceiptID(id string) bool { return receiptPattern.MatchString(id) }

// Erase removes every trace of device in tenant's cloud and archive tiers
// and returns the receipt. It is idempotent: erasing again removes what
// arrived since (a new history newer than the previous erasure) and moves
// the tombstone forward. The tombstone goes first, so from then on the
// ingest gates drop the device's older fixes; a second pass after Settle
// removes what was already past a gate during the first.
func (s *Service) Erase(ctx context.Context, tenant, device string) (Receipt, error) {
	id, err := newReceiptID()
	if err != nil {
		return Receipt{}, err
	}
	r := Receipt{
		ID: id, Tenant: tenant, DeviceSHA256: DeviceDigest(tenant, device),
		ErasedBefore: s.now().UTC(), State: StateRunning, Tiers: map[string]Tier{},
	}
	if err := s.Cloud.PutTombstone(ctx, tenant, device, r.ErasedBefore, r.ID); err != nil {
		return r, fmt.Errorf("erase: tombstone: %w", err)
	}
	if err := s.save(ctx, r); err != nil {
		return r, err
	}
	passErr := s.erasePass(ctx, tenant, device, &r)
	if passErr == nil {
		settle := s.Settle
		if settle <= 0 {
			settle = DefaultSettle
		}
		select {
		case <-ctx.Done():
			passErr = ctx.Err()
		case <-time.After(settle):
			passErr = s.erasePass(ctx, tenant, device, &r)
		}
	}
	done := s.now().UTC()
	r.FinishedAt = &done
	r.State = StateDone
	if passErr != nil {
		r.State = StateFailed
	}
	// The receipt is written even when the request was cancelled, so
	// GET privacy?receipt= tells what happened.
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.save(saveCtx, r); err != nil && passErr == nil {
		passErr = err
	}
	if passErr != nil {
		return r, fmt.Errorf("erase: %w", passErr)
	}
	return r, nil
}

// erasePass runs every tier once, adding to r's counts.
func (s *Service) erasePass(ctx context.Context, tenant, device string, r *Receipt) error {
	var firstErr error
	note := func(tier string, removed map[string]int, err error) {
		t := r.Tiers[tier]
		if t.Removed == nil {
			t.Removed = map[string]int{}
		}
		for k, v := range removed {
			t.Removed[k] += v
		}
		t.State, t.Error = StateDone, ""
		if err != nil {
			t.State, t.Error = StateFailed, err.Error()
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", tier, err)
			}
		}
		r.Tiers[tier] = t
	}
	removed, err := s.Cloud.EraseDevice(ctx, tenant, device)
	note(TierCloud, removed, err)
	rewritten, deleted, err := s.eraseFromFences(ctx, tenant, device)
	note(TierFences, map[string]int{"rewritten": rewritten, "deleted": deleted}, err)
	if s.Rules != nil {
		rewritten, deleted, err := s.eraseFromRules(ctx, tenant, device)
		note(TierRules, map[string]int{"rewritten": rewritten, "deleted": deleted}, err)
	}
	if s.Archive != nil {
		n, err := s.Archive.EraseDevice(ctx, tenant, device)
		note(TierArchive, map[string]int{"objects": n}, err)
	}
	return firstErr
}

// eraseFromFences removes device from the devices list of every fence
// naming it. A fence that named only this device is deleted: with an empty
// list it would apply to every device of the tenant.
func (s *Service) eraseFromFences(ctx context.Context, tenant, device string) (rewritten, deleted int, err error) {
	var changed []geofence.Stored
	var drop []string
	_, err = s.eachFenceNaming(ctx, tenant, device, func(id string, _ fenceHead, raw []byte) error {
		f, err := geofence.DecodeStored(raw)
		if err != nil {
			return fmt.Errorf("stored fence %q: %w", id, err)
		}
		f.Devices = slices.DeleteFunc(f.Devices, func(d string) bool { return d == device })
		if len(f.Devices) == 0 {
			drop = append(drop, id)
			return nil
		}
		feature, err := geofence.Encode(&f)
		if err != nil {
			return err
		}
		changed = append(changed, geofence.Stored{ID: id, Feature: feature})
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	if len(changed) > 0 {
		// Replacing fences does not add any: no quota applies.
		if err := s.Fences.PutFences(ctx, tenant, changed, math.MaxInt32); err != nil {
			return 0, 0, fmt.Errorf("rewrite fences: %w", err)
		}
	}
	for _, id := range drop {
		if _, err := s.Fences.DeleteFence(ctx, tenant, id); err != nil {
			return len(changed), deleted, fmt.Errorf("delete fence %q: %w", id, err)
		}
		deleted++
	}
	return len(changed), deleted, nil
}

// TierEdgePrefix names the tier of an edge node in a receipt: "edge:<node>".
const TierEdgePrefix = "edge:"

// eraseFromRules removes device from the devices list of every alert rule
// naming it; a rule that named only this device is deleted (an empty list
// means every device). A rewritten rule starts with fresh thresholds.
func (s *Service) eraseFromRules(ctx context.Context, tenant, device string) (rewritten, deleted int, err error) {
	rules, err := s.Rules.Rules(ctx, tenant)
	if err != nil {
		return 0, 0, err
	}
	for _, r := range rules {
		if !slices.Contains(r.Devices, device) {
			continue
		}
		r.Devices = slices.DeleteFunc(r.Devices, func(d string) bool { return d == device })
		if len(r.Devices) == 0 {
			if err := s.Rules.DeleteRule(ctx, tenant, r.ID); err != nil {
				return rewritten, deleted, fmt.Errorf("delete rule %q: %w", r.ID, err)
			}
			deleted++
			continue
		}
		if err := s.Rules.PutRule(ctx, tenant, r); err != nil {
			return rewritten, deleted, fmt.Errorf("rewrite rule %q: %w", r.ID, err)
		}
		rewritten++
	}
	return rewritten, deleted, nil
}

// Receipt returns a receipt of tenant, or found=false, with a tier
// "edge:<node>" for each edge node that confirmed its purge.
func (s *Service) Receipt(ctx context.Context, tenant, id string) (Receipt, bool, error) {
	raw, found, err := s.Cloud.LoadReceipt(ctx, tenant, id)
	if err != nil || !found {
		return Receipt{}, found, err
	}
	var r Receipt
	if err := json.Unmarshal(raw, &r); err != nil {
		return Receipt{}, false, fmt.Errorf("stored receipt %s: %w", id, err)
	}
	edges, err := s.Cloud.EdgeConfirmations(ctx, tenant, id)
	if err != nil {
		return Receipt{}, false, err
	}
	for node, raw := range edges {
		var t Tier
		if err := json.Unmarshal(raw, &t); err != nil {
			t = Tier{State: StateFailed, Error: "unreadable confirmation"}
		}
		if r.Tiers == nil {
			r.Tiers = map[string]Tier{}
		}
		r.Tiers[TierEdgePrefix+node] = t
	}
	return r, true, nil
}

// Erasures lists tenant's tombstones, for edge nodes to purge.
func (s *Service) Erasures(ctx context.Context, tenant string) ([]Erasure, error) {
	return s.Cloud.Erasures(ctx, tenant)
}

// ConfirmEdge records an edge node's purge of receipt; found=false when
// the tenant has no such receipt.
func (s *Service) ConfirmEdge(ctx context.Context, tenant, receipt, node string, t Tier) (bool, error) {
	if _, found, err := s.Cloud.LoadReceipt(ctx, tenant, receipt); err != nil || !found {
		return false, err
	}
	raw, err := json.Marshal(t)
	if err != nil {
		return false, err
	}
	return true, s.Cloud.ConfirmEdge(ctx, tenant, receipt, node, raw)
}

func (s *Service) save(ctx context.Context, r Receipt) error {
	r.Tiers = maps.Clone(r.Tiers)
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode receipt: %w", err)
	}
	if err := s.Cloud.SaveReceipt(ctx, r.Tenant, r.ID, raw); err != nil {
		return fmt.Errorf("save receipt: %w", err)
	}
	return nil
}

func newReceiptID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("receipt id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
