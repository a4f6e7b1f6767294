package redisstore

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/clip"
	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/webhook"
)

// Alert keys of tenant T (all in T's slot), next to the hot store's:
//
//	gt:{T}:rules               HASH rule id -> rule JSON (with its secret)
//	gt:{T}:rulestate           HASH rule\x1fdevice -> threshold state JSON
//	gt:{T}:alerts:cooldown     HASH rule\x1fdevice -> when it last fired, unix ms
//	gt:{T}:alert:<id>          HASH one alert: record fields and its CloudEvent; expires after the retention
//	gt:{T}:alerts              ZSET alert id -> fired at (ms): the listing, trimmed to the retention
//	gt:{T}:alerts:dead         ZSET alert id -> dead-lettered at (ms)
//	gt:{T}:alerts:q:<rule>\x1f<device>  LIST alert ids to deliver, in order
//	gt:{T}:alerts:due          ZSET rule\x1fdevice -> when its queue's head is due (ms)
//	gt:{T}:alerts:lock         STRING delivery lock of the tenant
//	gt:{T}:eventlog            STREAM the tenant event log, field ce (issue 9 §4 layout)
//	gt:{T}:events              STREAM the event outbox (issue 16 layout), when a sink is configured
//	gt:alerts:tenants          SET tenants that have had rules (the sweep and the dispatcher visit them)
//	gt:{T}:alerts:up           ZSET alert id -> when marked (ms): at an edge node (AtEdge), alerts whose
//	                           record goes up to the cloud (fired, delivery ended), trimmed to the retention
//
// The delivery queue is one list per rule and device, so a webhook that is
// down delays only its own alerts, and each device's alerts reach a webhook
// in the order they fired.

// DefaultAlertRetention is how long fired alerts are listed.
const DefaultAlertRetention = 7 * 24 * time.Hour

// MaxRules bounds a tenant's rules: each event is checked against all.
const MaxRules = 1000

var (
	//go:embed alert_fire.lua
	alertFireLua string
	//go:embed alert_record.lua
	alertRecordLua string
	//go:embed alert_replay.lua
	alertReplayLua string

	alertFireScript   = redis.NewScript(alertFireLua)
	alertRecordScript = redis.NewScript(alertRecordLua)
	alertReplayScript = redis.NewScript(alertReplayLua)
	unlockScript      = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)
	// ARGV: field, last ms, state JSON, ... (the stored state's "t" is its last ms).
	saveStatesScript = redis.NewScript(`for i = 1, #ARGV, 3 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  local t = 0
  if cur then t = tonumber(cjson.decode(cur).t or 0) end
  if tonumber(ARGV[i + 1]) >= t then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2]) end
end
return 0`)
	dropEmptyScript = redis.NewScript(`if redis.call('LLEN', KEYS[1]) == 0 then redis.call('ZREM', KEYS[2], ARGV[1]) end return 0`)
)

// Alerts keeps rules, fired alerts and their delivery queue. It
// implements alert.Store, alert.RuleStore, alert.Log and webhook.Queue.
type Alerts struct {
	client    redis.UniversalClient
	prefix    string
	retention time.Duration
	outboxCap int64               // 0: no event sink, io.geotrack.alert.fired is not queued
	wake      func(tenant string) // the relay's wake-up after a queued event
	node      string              // the edge node it runs on (AtEdge); "" in the cloud
}

// NewAlerts wraps client; retention bounds the alert listing and the event
// log (default DefaultAlertRetention).
func NewAlerts(client redis.UniversalClient, retention time.Duration) *Alerts {
	if retention <= 0 {
		retention = DefaultAlertRetention
	}
	return &Alerts{client: client, prefix: DefaultKeyPrefix, retention: retention}
}

// WithEventOutbox makes Fire queue io.geotrack.alert.fired in the tenant's
// event outbox (gt:{T}:events, the relay's, issue 16) atomically with the
// alert, refusing (alert.ErrOutboxFull) when it holds capacity events, and
// call wake (the relay's Wake; may be nil) after each queued event.
func (a *Alerts) WithEventOutbox(capacity int64, wake func(tenant string)) *Alerts {
	a.outboxCap, a.wake = max(capacity, 1), wake
	return a
}

// AtEdge makes the store the one of edge node: each alert it fires names
// the node, and its record is marked for the cloud (alerts_edge.go) when
// it fires and when its delivery ends.
func (a *Alerts) AtEdge(node string) *Alerts {
	a.node = node
	return a
}

type alertKeys struct{ base string }

func (a *Alerts) keys(tenant string) (alertKeys, error) {
	if !ValidTenant(tenant) {
		return alertKeys{}, fmt.Errorf("%w: tenant %q", ErrInvalidArgument, clip.String(tenant, 40))
	}
	return alertKeys{base: a.prefix + ":{" + tenant + "}:"}, nil
}

func (k alertKeys) rules() string              { return k.base + "rules" }
func (k alertKeys) ruleState() string          { return k.base + "rulestate" }
func (k alertKeys) cooldown() string           { return k.base + "alerts:cooldown" }
func (k alertKeys) alert(id string) string     { return k.base + "alert:" + id }
func (k alertKeys) index() string              { return k.base + "alerts" }
func (k alertKeys) dead() string               { return k.base + "alerts:dead" }
func (k alertKeys) queue(member string) string { return k.base + "alerts:q:" + member }
func (k alertKeys) due() string                { return k.base + "alerts:due" }
func (k alertKeys) lock() string               { return k.base + "alerts:lock" }
func (k alertKeys) eventLog() string           { return k.base + "eventlog" }
func (k alertKeys) lastTS() string             { return k.base + "lastts" }
func (k alertKeys) outbox() string             { return k.base + "events" }
func (k alertKeys) uplink() string             { return k.base + "alerts:up" }
func (a *Alerts) tenantsKey() string           { return a.prefix + ":alerts:tenants" }
func pairField(rule, device string) string     { return rule + "\x1f" + device }
func splitPair(member string) (string, string) { r, d, _ := strings.Cut(member, "\x1f"); return r, d }

// --- rules (alert.RuleStore) ---

// PutRule creates or replaces a rule (r.ID set by the caller).
func (a *Alerts) PutRule(ctx context.Context, tenant string, r alert.Rule) error {
	k, err := a.keys(tenant)
	if err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("redisstore: encode rule: %w", err)
	}
	n, err := a.client.HLen(ctx, k.rules()).Result()
	if err != nil {
		return fmt.Errorf("redisstore: put rule: %w", err)
	}
	// The operator's override (geotrack limits --rules) wins over MaxRules.
	q, err := readQuotas(ctx, a.client, limitsKey(a.prefix, tenant), tenant)
	if err != nil {
		return fmt.Errorf("redisstore: put rule: %w", err)
	}
	limit := int64(MaxRules)
	if q.Rules > 0 {
		limit = int64(q.Rules)
	}
	if n >= limit {
		if exists, _ := a.client.HExists(ctx, k.rules(), r.ID).Result(); !exists {
			return fmt.Errorf("%w: the tenant has %d rules, the limit (rule quota of tenant %s)", alert.ErrTooManyRules, n, tenant)
		}
	}
	// The tenant is listed first: a rule is never invisible to the sweep.
	if err := a.client.SAdd(ctx, a.tenantsKey(), tenant).Err(); err != nil {
		return fmt.Errorf("redisstore: put rule: %w", err)
	}
	if err := a.client.HSet(ctx, k.rules(), r.ID, b).Err(); err != nil {
		return fmt.Errorf("redisstore: put rule: %w", err)
	}
	// A replaced rule starts afresh: its thresholds and cooldowns were
	// decided under the old conditions.
	return a.forgetRuleState(ctx, k, r.ID)
}

// forgetRuleState removes a rule's threshold states and cooldowns.
func (a *Alerts) forgetRuleState(ctx context.Context, k alertKeys, id string) error {
	for _, key := range []string{k.ruleState(), k.cooldown()} {
		iter := a.client.HScan(ctx, key, 0, escapeGlob(id)+"\x1f*", 500).Iterator()
		var fields []string
		for i := 0; iter.Next(ctx); i++ {
			if i%2 == 0 { // field, value, field, value...
				fields = append(fields, iter.Val())
			}
		}
		if err := iter.Err(); err != nil {
			return fmt.Errorf("redisstore: forget rule state: %w", err)
		}
		if len(fields) > 0 {
			if err := a.client.HDel(ctx, key, fields...).Err(); err != nil {
				return fmt.Errorf("redisstore: forget rule state: %w", err)
			}
		}
	}
	return nil
}

// escapeGlob quotes the glob characters of s for a MATCH pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Rule returns one rule, alert.ErrNotFound when there is none.
func (a *Alerts) Rule(ctx context.Context, tenant, id string) (alert.Rule, error) {
	k, err := a.keys(tenant)
	if err != nil {
		return alert.Rule{}, err
	}
	b, err := a.client.HGet(ctx, k.rules(), id).Bytes()
	if errors.Is(err, redis.Nil) {
		return alert.Rule{}, alert.ErrNotFound
	}
	if err != nil {
		return alert.Rule{}, fmt.Errorf("redisstore: rule: %w", err)
	}
	var r alert.Rule
	if err := json.Unmarshal(b, &r); err != nil {
		return alert.Rule{}, fmt.Errorf("redisstore: decode rule %s: %w", id, err)
	}
	return r, nil
}

// ListRules returns the tenant's rules sorted by id.
func (a *Alerts) ListRules(ctx context.Context, tenant string) ([]alert.Rule, error) {
	return a.Rules(ctx, tenant)
}

// Rules returns the tenant's rules sorted by id (alert.Store).
func (a *Alerts) Rules(ctx context.Context, tenant string) ([]alert.Rule, error) {
	k, err := a.keys(tenant)
	if err != nil {
		return nil, err
	}
	all, err := a.client.HGetAll(ctx, k.rules()).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: rules: %w", err)
	}
	rules := make([]alert.Rule, 0, len(all))
	for id, b := range all {
		var r alert.Rule
		if err := json.Unmarshal([]byte(b), &r); err != nil {
			return nil, fmt.Errorf("redisstore: decode rule %s: %w", id, err)
		}
		rules = append(rules, r)
	}
	slices.SortFunc(rules, func(x, y alert.Rule) int { return strings.Compare(x.ID, y.ID) })
	return rules, nil
}

// DeleteRule removes a rule and its threshold state; its queued alerts
// are dead-lettered on their next attempt ("the rule was deleted").
func (a *Alerts) DeleteRule(ctx context.Context, tenant, id string) error {
	k, err := a.keys(tenant)
	if err != nil {
		return err
	}
	n, err := a.client.HDel(ctx, k.rules(), id).Result()
	if err != nil {
		return fmt.Errorf("redisstore: delete rule: %w", err)
	}
	if n == 0 {
		return alert.ErrNotFound
	}
	return a.forgetRuleState(ctx, k, id)
}

// --- evaluation (alert.Store) ---

// States reads threshold states; missing ones are zero.
func (a *Alerts) States(ctx context.Context, tenant string, keys []alert.StateKey) (map[alert.StateKey]alert.State, error) {
	k, err := a.keys(tenant)
	if err != nil {
		return nil, err
	}
	fields := make([]string, len(keys))
	for i, sk := range keys {
		fields[i] = pairField(sk.Rule, sk.Device)
	}
	vals, err := a.client.HMGet(ctx, k.ruleState(), fields...).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: rule states: %w", err)
	}
	out := make(map[alert.StateKey]alert.State, len(keys))
	for i, v := range vals {
		var st alert.State
		if s, ok := v.(string); ok {
			if err := json.Unmarshal([]byte(s), &st); err != nil {
				return nil, fmt.Errorf("redisstore: decode rule state: %w", err)
			}
		}
		out[keys[i]] = st
	}
	return out, nil
}

// SaveStates writes threshold states, each only when it is not older
// than the stored one (by the ts of the fix it last evaluated): a replica
// that evaluated an older event concurrently cannot move a state back.
func (a *Alerts) SaveStates(ctx context.Context, tenant string, states map[alert.StateKey]alert.State) error {
	k, err := a.keys(tenant)
	if err != nil {
		return err
	}
	args := make([]any, 0, 3*len(states))
	for sk, st := range states {
		b, _ := json.Marshal(st)
		args = append(args, pairField(sk.Rule, sk.Device), st.LastMS, b)
	}
	if err := saveStatesScript.Run(ctx, a.client, []string{k.ruleState()}, args...).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisstore: save rule states: %w", err)
	}
	return nil
}

// Fire stores, queues and logs one alert in one script (alert_fire.lua).
func (a *Alerts) Fire(ctx context.Context, f alert.Fired, e alert.Emitted) (alert.Outcome, error) {
	k, err := a.keys(f.Tenant)
	if err != nil {
		return 0, err
	}
	if a.outboxCap > 0 {
		// The relay's list of outboxes lives in another slot: written first.
		if err := a.client.SAdd(ctx, EmittersKey(a.prefix), f.Tenant).Err(); err != nil {
			return 0, fmt.Errorf("redisstore: register event emitter: %w", err)
		}
	}
	member := pairField(f.Rule.ID, f.Device)
	now := f.At.UnixMilli()
	minID := strconv.FormatInt(max(0, now-a.retention.Milliseconds()), 10)
	res, err := alertFireScript.Run(ctx, a.client,
		[]string{k.alert(f.ID), k.index(), k.cooldown(), k.queue(member), k.due(), k.eventLog(), k.outbox(), k.uplink()},
		f.ID, member, now, f.Cooldown.Milliseconds(), a.retention.Milliseconds(), member, e.CloudEvent,
		f.Rule.ID, f.Rule.Name, string(f.Rule.Kind()), f.Device, minID,
		a.outboxCap, alert.TypeAlertFired, e.Source, e.Data, a.node).Int()
	if err != nil {
		if strings.Contains(err.Error(), outboxFullPrefix) {
			return 0, fmt.Errorf("redisstore: fire alert: %w: %v", alert.ErrOutboxFull, err)
		}
		return 0, fmt.Errorf("redisstore: fire alert: %w", err)
	}
	switch res {
	case 1:
		return alert.Duplicate, nil
	case 2:
		return alert.Suppressed, nil
	}
	if a.outboxCap > 0 && a.wake != nil {
		a.wake(f.Tenant)
	}
	return alert.Queued, nil
}

// LastFixes reads the time of each device's latest fix from the hot store,
// and for fixes an edge node marked (fix.AttrEdgeAlerts) that node, from
// the latest fix's JSON.
func (a *Alerts) LastFixes(ctx context.Context, tenant string) (map[string]alert.LastFix, error) {
	k, err := a.keys(tenant)
	if err != nil {
		return nil, err
	}
	pipe := a.client.Pipeline()
	times := pipe.HGetAll(ctx, k.lastTS())
	fixes := pipe.HGetAll(ctx, k.base+"last")
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redisstore: last fixes: %w", err)
	}
	latest := fixes.Val()
	out := make(map[string]alert.LastFix, len(times.Val()))
	for d, v := range times.Val() {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		lf := alert.LastFix{At: time.UnixMilli(ms).UTC()}
		if raw := latest[d]; strings.Contains(raw, fix.AttrEdgeAlerts) {
			var f struct {
				Attrs map[string]string `json:"attrs"`
			}
			if json.Unmarshal([]byte(raw), &f) == nil {
				lf.Edge = f.Attrs[fix.AttrEdgeAlerts]
			}
		}
		out[d] = lf
	}
	return out, nil
}

// Tenants lists tenants that have had rules.
func (a *Alerts) Tenants(ctx context.Context) ([]string, error) {
	ts, err := a.client.SMembers(ctx, a.tenantsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: alert tenants: %w", err)
	}
	slices.Sort(ts)
	return ts, nil
}

// --- delivery (webhook.Queue) ---

// DeliveryTenants lists tenants that may have queued deliveries.
func (a *Alerts) DeliveryTenants(ctx context.Context) ([]string, error) { return a.Tenants(ctx) }

// Lock takes the tenant's delivery lock.
func (a *Alerts) Lock(ctx context.Context, tenant string, ttl time.Duration) (func(), bool, error) {
	k, err := a.keys(tenant)
	if err != nil {
		return nil, false, err
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	ok, err := a.client.SetNX(ctx, k.lock(), token, ttl).Result()
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("redisstore: delivery lock: %w", err)
		}
		return nil, false, err
	}
	return func() {
		_ = unlockScript.Run(context.WithoutCancel(ctx), a.client, []string{k.lock()}, token).Err()
	}, true, nil
}

var alertFields = []string{"rule", "name", "kind", "device", "fired", "ce", "queue", "state", "attempts", "status", "error", "since", "next", "done", "node"}

// Due returns the head of each queue of tenant due at now.
func (a *Alerts) Due(ctx context.Context, tenant string, now time.Time, limit int) ([]webhook.Job, error) {
	k, err := a.keys(tenant)
	if err != nil {
		return nil, err
	}
	members, err := a.client.ZRangeByScore(ctx, k.due(), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(limit)}).Result()
	if err != nil || len(members) == 0 {
		return nil, wrapErr("due deliveries", err)
	}
	heads := make([]*redis.StringCmd, len(members))
	_, err = a.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			heads[i] = p.LIndex(ctx, k.queue(m), 0)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrapErr("queue heads", err)
	}
	var jobs []webhook.Job
	for i, m := range members {
		id, err := heads[i].Result()
		if errors.Is(err, redis.Nil) {
			if err := dropEmptyScript.Run(ctx, a.client, []string{k.queue(m), k.due()}, m).Err(); err != nil && !errors.Is(err, redis.Nil) {
				return nil, wrapErr("drop empty queue", err)
			}
			continue
		}
		rec, err := a.client.HMGet(ctx, k.alert(id), "ce", "attempts", "since").Result()
		if err != nil {
			return nil, wrapErr("queued alert", err)
		}
		job := webhook.Job{Tenant: tenant, AlertID: id, Queue: m, Body: []byte(str(rec[0])),
			Attempts: atoi(rec[1]), Since: msTime(rec[2])}
		ruleID, _ := splitPair(m)
		r, err := a.Rule(ctx, tenant, ruleID)
		switch {
		case errors.Is(err, alert.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			job.URL, job.Secret = r.Webhook.URL, r.Webhook.Secret
		}
		jobs = append(jobs, job)
	}
	return jobs, nil
}

// Record stores the result of one delivery attempt (alert_record.lua).
func (a *Alerts) Record(ctx context.Context, job webhook.Job, r webhook.Result, now time.Time) error {
	k, err := a.keys(job.Tenant)
	if err != nil {
		return err
	}
	var next int64
	if !r.Next.IsZero() {
		next = r.Next.UnixMilli()
	}
	err = alertRecordScript.Run(ctx, a.client,
		[]string{k.alert(job.AlertID), k.queue(job.Queue), k.due(), k.dead(), k.uplink()},
		job.AlertID, r.Verdict.String(), now.UnixMilli(), r.Attempts, r.Status, r.Err, next, job.Queue).Err()
	return wrapErr("record delivery", err)
}

// --- listing and replay (alert.Log) ---

// ListAlerts pages through fired alerts (or dead letters), oldest first.
// The cursor is "<ms>:<id>" of the last alert returned.
func (a *Alerts) ListAlerts(ctx context.Context, tenant string, q alert.Query) (alert.Page, error) {
	k, err := a.keys(tenant)
	if err != nil {
		return alert.Page{}, err
	}
	index := k.index()
	if q.Dead {
		index = k.dead()
	}
	minScore, maxScore := "-inf", "+inf"
	if !q.From.IsZero() {
		minScore = strconv.FormatInt(q.From.UnixMilli(), 10)
	}
	if !q.To.IsZero() {
		maxScore = strconv.FormatInt(q.To.UnixMilli(), 10)
	}
	var afterMS int64
	afterID := ""
	if q.Cursor != "" {
		ms, id, ok := strings.Cut(q.Cursor, ":")
		v, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil || id == "" {
			return alert.Page{}, alert.ErrBadCursor
		}
		afterMS, afterID = v, id
		minScore = strconv.FormatInt(max(v, q.From.UnixMilli()), 10)
	}
	const batch, scanLimit = 200, 20000
	var page alert.Page
	offset, scanned := int64(0), 0
	for scanned < scanLimit {
		zs, err := a.client.ZRangeByScoreWithScores(ctx, index, &redis.ZRangeBy{Min: minScore, Max: maxScore, Offset: offset, Count: batch}).Result()
		if err != nil {
			return alert.Page{}, wrapErr("list alerts", err)
		}
		offset += int64(len(zs))
		cmds := make([]*redis.SliceCmd, len(zs))
		_, err = a.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, z := range zs {
				cmds[i] = p.HMGet(ctx, k.alert(z.Member.(string)), alertFields...)
			}
			return nil
		})
		if err != nil {
			return alert.Page{}, wrapErr("read alerts", err)
		}
		for i, z := range zs {
			scanned++
			id, ms := z.Member.(string), int64(z.Score)
			if q.Cursor != "" && (ms < afterMS || (ms == afterMS && id <= afterID)) {
				continue
			}
			vals := cmds[i].Val()
			if vals[0] == nil {
				continue // expired
			}
			rec := record(id, vals)
			if (q.Device != "" && rec.Device != q.Device) || (q.Rule != "" && rec.Rule != q.Rule) {
				continue
			}
			page.Alerts = append(page.Alerts, rec)
			if len(page.Alerts) == q.Limit {
				page.Next = fmt.Sprintf("%d:%s", ms, id)
				return page, nil
			}
		}
		if len(zs) < batch {
			return page, nil
		}
	}
	if n := len(page.Alerts); n > 0 {
		last := page.Alerts[n-1]
		page.Next = fmt.Sprintf("%d:%s", last.FiredAt.UnixMilli(), last.ID)
	}
	return page, nil
}

func record(id string, v []any) alert.Record {
	r := alert.Record{ID: id, Rule: str(v[0]), Name: str(v[1]), Kind: alert.Kind(str(v[2])), Device: str(v[3]),
		FiredAt: msTime(v[4]), Event: json.RawMessage(str(v[5])), State: str(v[7]), Attempts: atoi(v[8]),
		LastStatus: atoi(v[9]), LastError: str(v[10]), Node: str(v[14])}
	if t := msTime(v[12]); !t.IsZero() && r.State == alert.StatePending {
		r.NextAttempt = &t
	}
	if t := msTime(v[13]); !t.IsZero() {
		r.DoneAt = &t
	}
	if len(r.Event) == 0 {
		r.Event = json.RawMessage("null")
	}
	return r
}

// Replay queues a delivered or dead alert again for delivery.
func (a *Alerts) Replay(ctx context.Context, tenant, id string) error {
	k, err := a.keys(tenant)
	if err != nil {
		return err
	}
	vals, err := a.client.HMGet(ctx, k.alert(id), "queue", "node").Result()
	if err != nil {
		return wrapErr("replay", err)
	}
	member, node := str(vals[0]), str(vals[1])
	if node != "" {
		return fmt.Errorf("%w: alert %s of node %s", alert.ErrFiredAtEdge, id, node)
	}
	if member == "" {
		return alert.ErrNotFound
	}
	res, err := alertReplayScript.Run(ctx, a.client, []string{k.alert(id), k.queue(member), k.due(), k.dead()},
		id, time.Now().UnixMilli(), member).Int()
	if err != nil {
		return wrapErr("replay", err)
	}
	switch res {
	case 0:
		return alert.ErrNotFound
	case 2:
		return alert.ErrPending
	}
	return nil
}

func wrapErr(what string, err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return nil
	}
	return fmt.Errorf("redisstore: %s: %w", what, err)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func atoi(v any) int {
	n, _ := strconv.Atoi(str(v))
	return n
}

func msTime(v any) time.Time {
	ms, err := strconv.ParseInt(str(v), 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
