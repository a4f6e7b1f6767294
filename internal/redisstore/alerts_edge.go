package redisstore

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/privacy"
)

// Alerts fired at an edge node, on their way to the cloud's listing
// (alert.EdgeReport). At the edge (AtEdge) Fire and the final Record mark
// the alert in gt:{T}:alerts:up (score: when, each mark later than the
// last); the forwarder peeks, sends and acks a mark, so a state recorded
// meanwhile is sent again. Fire trims marks older than the retention, so
// an edge without CLOUD_ALERTS_URL keeps no more marks than alerts. In the
// cloud ImportEdge stores what arrives (alert_import.lua).

var (
	//go:embed alert_import.lua
	alertImportLua    string
	alertImportScript = redis.NewScript(alertImportLua)
	// ARGV: id, version, ... ; removes each id still at the version sent.
	uplinkAckScript = redis.NewScript(`for i = 1, #ARGV, 2 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) == ARGV[i + 1] then redis.call('ZREM', KEYS[1], ARGV[i]) end
end
return 0`)
)

// UplinkTenants lists the tenants that may have records to send up (those
// with rules: an edge node fires only synced rules).
func (a *Alerts) UplinkTenants(ctx context.Context) ([]string, error) { return a.Tenants(ctx) }

// PeekUplink returns up to limit records marked for the cloud, with their
// versions. Marks of alerts gone past the retention are dropped.
func (a *Alerts) PeekUplink(ctx context.Context, tenant string, limit int) ([]alert.Uplinked, error) {
	k, err := a.keys(tenant)
	if err != nil {
		return nil, err
	}
	marks, err := a.client.ZRangeWithScores(ctx, k.uplink(), 0, int64(max(limit, 1))-1).Result()
	if err != nil || len(marks) == 0 {
		return nil, wrapErr("peek alert uplink", err)
	}
	cmds := make([]*redis.SliceCmd, len(marks))
	_, err = a.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range marks {
			cmds[i] = p.HMGet(ctx, k.alert(m.Member.(string)), alertFields...)
		}
		return nil
	})
	if err != nil {
		return nil, wrapErr("peek alert uplink", err)
	}
	var out, expired []alert.Uplinked
	for i, m := range marks {
		u := alert.Uplinked{Record: alert.Record{ID: m.Member.(string)}, Mark: int64(m.Score)}
		if vals := cmds[i].Val(); vals[0] != nil {
			u.Record = record(u.Record.ID, vals)
			out = append(out, u)
		} else {
			expired = append(expired, u)
		}
	}
	if len(expired) > 0 {
		if err := a.AckUplink(ctx, tenant, expired); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AckUplink removes the marks of records the cloud took, each only if no
// later version was marked since it was peeked.
func (a *Alerts) AckUplink(ctx context.Context, tenant string, sent []alert.Uplinked) error {
	k, err := a.keys(tenant)
	if err != nil || len(sent) == 0 {
		return err
	}
	args := make([]any, 0, 2*len(sent))
	for _, u := range sent {
		args = append(args, u.Record.ID, fmt.Sprint(u.Mark))
	}
	return wrapErr("ack alert uplink", uplinkAckScript.Run(ctx, a.client, []string{k.uplink()}, args...).Err())
}

// ImportEdge stores records edge node reported for tenant: listed (and
// dead-lettered) like the cloud's own alerts, never queued for delivery;
// idempotent by alert id. An alert of a device erased after it fired is
// dropped (privacy.go's tombstone). A record stored for the first time
// (Added) appends its io.geotrack.alert.fired CloudEvent to the tenant's
// event log in the same script, so the log holds each alert once; it
// lands at the log's end (append order), its time the edge's.
func (a *Alerts) ImportEdge(ctx context.Context, tenant, node string, recs []alert.Record) (alert.Imported, error) {
	k, err := a.keys(tenant)
	if err != nil {
		return alert.Imported{}, err
	}
	now := time.Now().UnixMilli()
	minID := strconv.FormatInt(max(0, now-a.retention.Milliseconds()), 10)
	var out alert.Imported
	for _, r := range recs {
		var done int64
		if r.DoneAt != nil {
			done = r.DoneAt.UnixMilli()
		}
		n, err := alertImportScript.Run(ctx, a.client, []string{k.alert(r.ID), k.index(), k.dead(), k.base + "erased", k.eventLog()},
			r.ID, r.Rule, r.Name, string(r.Kind), r.Device, r.FiredAt.UnixMilli(), []byte(r.Event),
			r.State, r.Attempts, r.LastStatus, r.LastError, done, node, a.retention.Milliseconds(), now,
			privacy.DeviceDigest(tenant, r.Device), minID).Int()
		if err != nil {
			return out, fmt.Errorf("redisstore: import edge alert %s: %w", r.ID, err)
		}
		switch n {
		case 0:
			out.Added++
		case 1:
			out.Updated++
		default:
			out.Unchanged++
		}
	}
	return out, nil
}
