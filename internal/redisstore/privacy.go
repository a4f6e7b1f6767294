package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/privacy"
)

// Privacy (issue 12 §1) erases a device from a tenant's keys and keeps the
// erasure tombstones and receipts. Keys of tenant T:
//
//	gt:{T}:erased                  HASH privacy.DeviceDigest(device) → erasure instant, unix ms
//	gt:{T}:privacy:receipt:<id>    STRING receipt JSON, expires after ReceiptTTL
//
// Neither names the device in clear: a tombstone is found by the digest of
// the id, so an erased device leaves no readable trace in Redis (the audit
// log excepted, kept as the record of the erasure).
type Privacy struct {
	client redis.UniversalClient
	prefix string
}

// ReceiptTTL is how long an erasure receipt can be read.
const ReceiptTTL = 400 * 24 * time.Hour

// NewPrivacy wraps client ("" prefix: "gt").
func NewPrivacy(client redis.UniversalClient, prefix string) *Privacy {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return &Privacy{client: client, prefix: prefix}
}

func (p *Privacy) base(tenant string) (string, error) {
	if err := checkTenant(tenant); err != nil {
		return "", err
	}
	return p.prefix + ":{" + tenant + "}:", nil
}

// PutTombstone records that device was erased at instant, by receipt:
// fixes older than it are dropped at ingest from now on (a later erasure
// moves it forward), and edge nodes find it in Erasures.
func (p *Privacy) PutTombstone(ctx context.Context, tenant, device string, at time.Time, receipt string) error {
	base, err := p.base(tenant)
	if err != nil {
		return err
	}
	value := strconv.FormatInt(at.UnixMilli(), 10) + " " + receipt
	if err := p.client.HSet(ctx, base+"erased", privacy.DeviceDigest(tenant, device), value).Err(); err != nil {
		return markOutage(fmt.Errorf("put erasure tombstone: %w", err))
	}
	return nil
}

// Erasures returns tenant's tombstones.
func (p *Privacy) Erasures(ctx context.Context, tenant string) ([]privacy.Erasure, error) {
	base, err := p.base(tenant)
	if err != nil {
		return nil, err
	}
	all, err := p.client.HGetAll(ctx, base+"erased").Result()
	if err != nil {
		return nil, markOutage(fmt.Errorf("read erasure tombstones: %w", err))
	}
	out := make([]privacy.Erasure, 0, len(all))
	for digest, v := range all {
		msText, receipt, _ := strings.Cut(v, " ")
		ms, err := strconv.ParseInt(msText, 10, 64)
		if err != nil {
			continue
		}
		out = append(out, privacy.Erasure{DeviceSHA256: digest, ErasedBefore: time.UnixMilli(ms).UTC(), Receipt: receipt})
	}
	slices.SortFunc(out, func(a, b privacy.Erasure) int { return strings.Compare(a.DeviceSHA256, b.DeviceSHA256) })
	return out, nil
}

// Tombstones returns tenant's erasure instants by privacy.DeviceDigest.
func (p *Privacy) Tombstones(ctx context.Context, tenant string) (map[string]time.Time, error) {
	list, err := p.Erasures(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(list))
	for _, e := range list {
		out[e.DeviceSHA256] = e.ErasedBefore
	}
	return out, nil
}

// ConfirmEdge records that edge node purged the erasure of receipt (a
// hash per receipt, so confirmations of several nodes never race).
func (p *Privacy) ConfirmEdge(ctx context.Context, tenant, receipt, node string, confirmation []byte) error {
	base, err := p.base(tenant)
	if err != nil {
		return err
	}
	key := base + "privacy:receipt:" + receipt + ":edges"
	_, err = p.client.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.HSet(ctx, key, node, confirmation)
		pipe.Expire(ctx, key, ReceiptTTL)
		return nil
	})
	if err != nil {
		return markOutage(fmt.Errorf("confirm edge erasure: %w", err))
	}
	return nil
}

// EdgeConfirmations returns the confirmations of receipt by node.
func (p *Privacy) EdgeConfirmations(ctx context.Context, tenant, receipt string) (map[string][]byte, error) {
	base, err := p.base(tenant)
	if err != nil {
		return nil, err
	}
	all, err := p.client.HGetAll(ctx, base+"privacy:receipt:"+receipt+":edges").Result()
	if err != nil {
		return nil, markOutage(fmt.Errorf("read edge confirmations: %w", err))
	}
	out := make(map[string][]byte, len(all))
	for k, v := range all {
		out[k] = []byte(v)
	}
	return out, nil
}

// SaveReceipt stores a receipt's JSON under its id.
func (p *Privacy) SaveReceipt(ctx context.Context, tenant, id string, receipt []byte) error {
	base, err := p.base(tenant)
	if err != nil {
		return err
	}
	if err := p.client.Set(ctx, base+"privacy:receipt:"+id, receipt, ReceiptTTL).Err(); err != nil {
		return markOutage(fmt.Errorf("save erasure receipt: %w", err))
	}
	return nil
}

// LoadReceipt returns a receipt's JSON, or found=false.
func (p *Privacy) LoadReceipt(ctx context.Context, tenant, id string) ([]byte, bool, error) {
	base, err := p.base(tenant)
	if err != nil {
		return nil, false, err
	}
	raw, err := p.client.Get(ctx, base+"privacy:receipt:"+id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, markOutage(fmt.Errorf("read erasure receipt: %w", err))
	}
	return raw, true, nil
}

// EraseDevice removes every trace of device from tenant's keys and returns
// how many keys, fields, members and stream entries went, by key family.
// It walks every key of the tenant (SCAN of the tenant's hash tag) rather
// than a list of known keys, so a family added later is covered by the
// same rules:
//   - keys per device (history index and buckets, movement and geofence
//     state, an alert delivery queue of the device) are deleted;
//   - hash fields named device or "<x>\x1fdevice" (latest fix and ts,
//     preferences, app config sent, rule state, cooldowns) are deleted, and a
//     hash whose "device" field is the device (an alert record) goes whole;
//   - set and sorted-set members device or "<x>\x1fdevice" (geo index,
//     device set, alert schedule) are removed, as are alert ids of deleted records;
//   - stream entries naming the device (event log, event outbox: a
//     CloudEvent whose subject or data.device is it) are deleted;
//   - CloudEvent dedup marks whose key holds the device id as a word
//     (source or event id) are deleted (the (device, ts) dedup still
//     catches a redelivery).
//
// The audit log, the tombstones and the receipts are kept. The bumped
// preferences version makes caches reload.
func (p *Privacy) EraseDevice(ctx context.Context, tenant, device string) (map[string]int, error) {
	base, err := p.base(tenant)
	if err != nil {
		return nil, err
	}
	if device == "" {
		return nil, fmt.Errorf("%w: empty device", ErrInvalidArgument)
	}
	// Fences and rules are hashes keyed by their own ids, which may look
	// like a device id: fences naming the device are rewritten by the
	// privacy service through the fence store.
	keep := map[string]bool{base + "audit": true, base + "erased": true, base + "fences": true, base + "fences:ids": true, base + "rules": true}
	erased := map[string]int{}
	var alertIDs []string
	var zsets []string
	visit := func(ctx context.Context, c redis.Cmdable, key string) error {
		if keep[key] || strings.HasPrefix(key, base+"privacy:") {
			return nil
		}
		rest := strings.TrimPrefix(key, base)
		if perDeviceKey(rest, device) {
			n, err := c.Del(ctx, key).Result()
			erased[family(rest)] += int(n)
			return err
		}
		// Per-event seen keys of releases before the compact dedup marks
		// (their name holds the event source and id).
		if strings.HasPrefix(rest, "seen:") {
			if containsWord(rest, device) {
				n, err := c.Del(ctx, key).Result()
				erased["seen"] += int(n)
				return err
			}
			return nil
		}
		typ, err := c.Type(ctx, key).Result()
		if err != nil {
			return err
		}
		switch typ {
		case "hash":
			if strings.HasPrefix(rest, "alert:") {
				d, err := c.HGet(ctx, key, "device").Result()
				if err != nil && !errors.Is(err, redis.Nil) {
					return err
				}
				if d == device {
					n, err := c.Del(ctx, key).Result()
					erased["alert"] += int(n)
					alertIDs = append(alertIDs, strings.TrimPrefix(rest, "alert:"))
					return err
				}
				return nil
			}
			fields, err := c.HKeys(ctx, key).Result()
			if err != nil {
				return err
			}
			var del []string
			for _, f := range fields {
				if namesDevice(f, device) {
					del = append(del, f)
				}
			}
			if len(del) > 0 {
				n, err := c.HDel(ctx, key, del...).Result()
				if err != nil {
					return err
				}
				erased[family(rest)] += int(n)
				if rest == "prefs" {
					if err := c.HIncrBy(ctx, key, prefsVersionField, 1).Err(); err != nil {
						return err
					}
				}
			}
		case "set":
			n, err := c.SRem(ctx, key, device).Result()
			erased[family(rest)] += int(n)
			return err
		case "zset":
			zsets = append(zsets, key)
			n, err := c.ZRem(ctx, key, device).Result()
			if err != nil {
				return err
			}
			erased[family(rest)] += int(n)
			iter := c.ZScan(ctx, key, 0, "*\x1f"+escapeGlob(device), 1000).Iterator()
			var members []any
			for i := 0; iter.Next(ctx); i++ {
				if i%2 == 0 && namesDevice(iter.Val(), device) {
					members = append(members, iter.Val())
				}
			}
			if err := iter.Err(); err != nil {
				return err
			}
			if len(members) > 0 {
				n, err := c.ZRem(ctx, key, members...).Result()
				erased[family(rest)] += int(n)
				return err
			}
		case "stream":
			n, err := eraseStreamEntries(ctx, c, key, device)
			erased[family(rest)] += n
			return err
		}
		return nil
	}
	if err := p.scanTenant(ctx, base, visit); err != nil {
		return erased, markOutage(fmt.Errorf("erase device: %w", err))
	}
	if len(alertIDs) > 0 {
		ids := make([]any, len(alertIDs))
		for i, id := range alertIDs {
			ids[i] = id
		}
		for _, key := range zsets {
			if err := p.client.ZRem(ctx, key, ids...).Err(); err != nil {
				return erased, markOutage(fmt.Errorf("erase device: alert listing: %w", err))
			}
		}
	}
	for k, v := range erased {
		if v == 0 {
			delete(erased, k)
		}
	}
	return erased, nil
}

// perDeviceKey reports whether rest (a key without the tenant's base)
// belongs to device alone.
func perDeviceKey(rest, device string) bool {
	for _, p := range []string{"h:", "mv:", "gfstate:"} {
		if rest == p+device {
			return true
		}
	}
	if n, ok := strings.CutPrefix(rest, "hb:"); ok {
		num, d, ok := strings.Cut(n, ":")
		if ok && d == device && num != "" && strings.Trim(num, "0123456789") == "" {
			return true
		}
	}
	if q, ok := strings.CutPrefix(rest, "alerts:q:"); ok {
		return namesDevice(q, device) && q != device
	}
	return false
}

// containsWord reports whether s holds device not adjacent to another
// character of an id word (letters, digits, '.', '_', '-'), so "d1" is not
// found in "d10".
func containsWord(s, device string) bool {
	word := func(c byte) bool {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
	}
	for i := 0; ; {
		j := strings.Index(s[i:], device)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(device)
		if (start == 0 || !word(s[start-1])) && (end == len(s) || !word(s[end])) {
			return true
		}
		i = start + 1
	}
}

// namesDevice: a field or member that is device, or "<x>\x1fdevice".
func namesDevice(s, device string) bool {
	return s == device || strings.HasSuffix(s, "\x1f"+device)
}

// family is a key's name without per-device and per-id parts, for counts.
func family(rest string) string {
	for _, p := range []string{"hb:", "h:", "mv:", "gfstate:", "alerts:q:", "alert:"} {
		if strings.HasPrefix(rest, p) {
			return strings.TrimSuffix(p, ":")
		}
	}
	return rest
}

// eraseStreamEntries deletes the entries of a stream that name device.
func eraseStreamEntries(ctx context.Context, c redis.Cmdable, key, device string) (int, error) {
	erased := 0
	start := "-"
	for {
		msgs, err := c.XRangeN(ctx, key, start, "+", 1000).Result()
		if err != nil {
			return erased, err
		}
		var ids []string
		for _, m := range msgs {
			if entryNamesDevice(m.Values, device) {
				ids = append(ids, m.ID)
			}
		}
		if len(ids) > 0 {
			n, err := c.XDel(ctx, key, ids...).Result()
			erased += int(n)
			if err != nil {
				return erased, err
			}
		}
		if len(msgs) < 1000 {
			return erased, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// entryNamesDevice: a field that is the device id, or a JSON value (a
// CloudEvent) whose subject, device or data.device is.
func entryNamesDevice(values map[string]any, device string) bool {
	for _, v := range values {
		s, _ := v.(string)
		if s == device {
			return true
		}
		if !strings.Contains(s, device) || !strings.HasPrefix(strings.TrimSpace(s), "{") {
			continue
		}
		var head struct {
			Subject string `json:"subject"`
			Device  string `json:"device"`
			Data    struct {
				Device string `json:"device"`
			} `json:"data"`
		}
		if json.Unmarshal([]byte(s), &head) == nil && (head.Subject == device || head.Device == device || head.Data.Device == device) {
			return true
		}
	}
	return false
}

// scanTenant calls visit for every key of the tenant (on every master of
// a cluster: the hash tag keeps them on one).
func (p *Privacy) scanTenant(ctx context.Context, base string, visit func(context.Context, redis.Cmdable, string) error) error {
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, escapeGlob(base)+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return err
		}
		for _, k := range keys {
			if err := visit(ctx, c, k); err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
		}
		return nil
	}
	if cc, ok := p.client.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	}
	return scan(ctx, p.client)
}
