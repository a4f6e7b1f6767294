package redisstore

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
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
// lands at the log's end (append order), its time the edge's. With an
// event outbox (WithEventOutbox) the same script queues the event for the
// sink, once too; a full outbox refuses the record (alert.ErrOutboxFull)
// before any write, and the node sends it again later.
func (a *Alerts) ImportEdge(ctx context.Context, tenant, node string, recs []alert.Record) (alert.Imported, error) {
	k, err := a.keys(tenant)
	if err != nil {
		return alert.Imported{}, err
	}
	if a.outboxCap > 0 && len(recs) > 0 {
		// The relay's list of outboxes lives in another slot: written first.
		if err := a.client.SAdd(ctx, EmittersKey(a.prefix), tenant).Err(); err != nil {
			return alert.Imported{}, fmt.Errorf("redisstore: register event emitter: %w", err)
		}
	}
	now := time.Now().UnixMilli()
	minID := strconv.FormatInt(max(0, now-a.retention.Milliseconds()), 10)
	var out alert.Imported
	defer func() {
		if out.Added > 0 && a.outboxCap > 0 && a.wake != nil {
			a.wake(tenant)
		}
	}()
	for _, r := range recs {
		var done int64
		if r.DoneAt != nil {
			done = r.DoneAt.UnixMilli()
		}
		// The outbox entry is the edge's event as it is: its source and data.
		var ce struct {
			Source string          `json:"source"`
			Data   json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(r.Event, &ce); err != nil {
			return out, fmt.Errorf("redisstore: import edge alert %s: its event: %w", r.ID, err)
		}
		// An event the relay could not rebuild (no source, data not JSON:
		// not the edge's notify's) is logged and listed, not queued.
		publish := a.outboxCap
		if ce.Source == "" || !json.Valid(ce.Data) {
			publish = 0
		}
		n, err := alertImportScript.Run(ctx, a.client,
			[]string{k.alert(r.ID), k.index(), k.dead(), k.base + "erased", k.eventLog(), k.outbox()},
			r.ID, r.Rule, r.Name, string(r.Kind), r.Device, r.FiredAt.UnixMilli(), []byte(r.Event),
			r.State, r.Attempts, r.LastStatus, r.LastError, done, node, a.retention.Milliseconds(), now,
			privacy.DeviceDigest(tenant, r.Device), minID,
			publish, alert.TypeAlertFired, ce.Source, []byte(ce.Data)).Int()
		if err != nil {
			if strings.Contains(err.Error(), outboxFullPrefix) {
				return out, fmt.Errorf("redisstore: import edge alert %s: %w: %v", r.ID, alert.ErrOutboxFull, err)
			}
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
