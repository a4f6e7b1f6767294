package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/geotrack/geotrack/internal/privacy"
)

// ErasuresDoneKey is the edge node's SET of erasure receipts it has purged
// and confirmed, so each is purged once: a device erased in the cloud can
// start a new history, which a second purge would wipe.
const ErasuresDoneKey = "gt:{edge}:erasures:done"

// edgeStreams are the edge's streams of fixes (entries with fields tenant
// and fix): the raw log, the outbox and its dead letters.
var edgeStreams = []string{RawKey, "gt:{edge}:outbox", "gt:{edge}:outbox:dead"}

// PurgeEdge removes from an edge node's Redis what it holds of the device
// an erasure names (by digest): its hot store keys (the device's history,
// latest position, state: as EraseDevice), its filter state, and the
// entries of the raw log and the outbox (and dead letters) with a fix of
// it older than the erasure; newer entries are a new history and stay.
// The device's id is found by the digest among the ids the node holds.
func (p *Privacy) PurgeEdge(ctx context.Context, tenant string, e privacy.Erasure) (map[string]int, error) {
	if _, err := p.base(tenant); err != nil {
		return nil, err
	}
	removed := map[string]int{}
	matches := func(device string) bool { return privacy.DeviceDigest(tenant, device) == e.DeviceSHA256 }
	ids := map[string]bool{}

	// Streams first: they name the ids of devices the hot store may not
	// hold yet (fixes still undecided by the filter).
	for _, key := range edgeStreams {
		n, err := p.purgeStream(ctx, key, tenant, e.ErasedBefore, matches, ids)
		removed["stream:"+strings.TrimPrefix(key, "gt:{edge}:")] += n
		if err != nil {
			return removed, markOutage(fmt.Errorf("purge %s: %w", key, err))
		}
	}
	devices, err := p.client.SMembers(ctx, p.prefix+":{"+tenant+"}:devices").Result()
	if err != nil {
		return removed, markOutage(fmt.Errorf("purge: devices: %w", err))
	}
	for _, d := range devices {
		if matches(d) {
			ids[d] = true
		}
	}
	fields, err := p.client.HKeys(ctx, FilterStateKey).Result()
	if err != nil {
		return removed, markOutage(fmt.Errorf("purge: filter state: %w", err))
	}
	for _, f := range fields {
		if t, d, ok := strings.Cut(f, "\x1f"); ok && t == tenant && matches(d) {
			ids[d] = true
		}
	}
	for d := range ids {
		n, err := p.client.HDel(ctx, FilterStateKey, member(tenant, d)).Result()
		removed["filter_state"] += int(n)
		if err != nil {
			return removed, markOutage(fmt.Errorf("purge: filter state: %w", err))
		}
		n, err = p.client.ZRem(ctx, FilterPendingKey, member(tenant, d)).Result()
		removed["filter_pending"] += int(n)
		if err != nil {
			return removed, markOutage(fmt.Errorf("purge: filter pending: %w", err))
		}
		hot, err := p.EraseDevice(ctx, tenant, d)
		for k, v := range hot {
			removed[k] += v
		}
		if err != nil {
			return removed, err
		}
	}
	for k, v := range removed {
		if v == 0 {
			delete(removed, k)
		}
	}
	return removed, nil
}

// purgeStream deletes the entries of tenant whose fix is of a matching
// device and older than before, noting the matching ids.
func (p *Privacy) purgeStream(ctx context.Context, key, tenant string, before time.Time, matches func(string) bool, ids map[string]bool) (int, error) {
	removed, start := 0, "-"
	for {
		msgs, err := p.client.XRangeN(ctx, key, start, "+", 1000).Result()
		if err != nil {
			return removed, err
		}
		var del []string
		for _, m := range msgs {
			if t, _ := m.Values["tenant"].(string); t != tenant {
				continue
			}
			raw, _ := m.Values["fix"].(string)
			var head struct {
				Device string    `json:"device"`
				TS     time.Time `json:"ts"`
			}
			if json.Unmarshal([]byte(raw), &head) != nil || !matches(head.Device) {
				continue
			}
			ids[head.Device] = true
			if head.TS.Before(before) {
				del = append(del, m.ID)
			}
		}
		if len(del) > 0 {
			n, err := p.client.XDel(ctx, key, del...).Result()
			removed += int(n)
			if err != nil {
				return removed, err
			}
		}
		if len(msgs) < 1000 {
			return removed, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// ErasureDone reports whether this edge node purged receipt already.
func (p *Privacy) ErasureDone(ctx context.Context, receipt string) (bool, error) {
	ok, err := p.client.SIsMember(ctx, ErasuresDoneKey, receipt).Result()
	if err != nil {
		return false, markOutage(fmt.Errorf("erasures done: %w", err))
	}
	return ok, nil
}

// MarkErasureDone records that this edge node purged and confirmed receipt.
func (p *Privacy) MarkErasureDone(ctx context.Context, receipt string) error {
	if err := p.client.SAdd(ctx, ErasuresDoneKey, receipt).Err(); err != nil {
		return markOutage(fmt.Errorf("erasures done: %w", err))
	}
	return nil
}
