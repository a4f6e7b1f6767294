package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/testenv"
	"github.com/geotrack/geotrack/internal/webhook"
)

// TestAlertsLifecycle: on a real Redis, an alert fires once per id, the
// cooldown suppresses a repeat, deliveries come out in order per rule and
// device, retries reschedule, dead letters list and replay re-queues.
func TestAlertsLifecycle(t *testing.T) {
	r := testenv.StartRedis(t)
	client := openClient(t, r.URL)
	alertLifecycle(t, client)
}

// TestAlertsOnCluster: the same on a 3-master Redis Cluster, where every
// script must touch one slot only (the tenant's).
func TestAlertsOnCluster(t *testing.T) {
	c := testenv.StartRedisCluster(t, 3)
	client := openClient(t, c.URL)
	alertLifecycle(t, client)
}

func alertLifecycle(t *testing.T, client redis.UniversalClient) {
	ctx := context.Background()
	a := NewAlerts(client, time.Hour).WithEventOutbox(3, nil)
	rule := alert.Rule{ID: "r1", Name: "depot", On: []string{alert.TypeGeofenceEntered},
		Webhook: alert.Webhook{URL: "https://h.example.com/", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, CooldownS: 60}
	if err := a.PutRule(ctx, "acme", rule); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Rule(ctx, "acme", "r1"); err != nil || got.Webhook.Secret != rule.Webhook.Secret {
		t.Fatalf("rule: %+v %v", got, err)
	}
	if _, err := a.Rule(ctx, "other", "r1"); !errors.Is(err, alert.ErrNotFound) {
		t.Fatalf("other tenant sees the rule: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	fire := func(id, device string, at time.Time, cooldown time.Duration) alert.Outcome {
		t.Helper()
		o, err := a.Fire(ctx, alert.Fired{ID: id, Tenant: "acme", Rule: rule, Device: device, At: at, Cooldown: cooldown},
			alert.Emitted{Source: "urn:test", Data: []byte(`{}`), CloudEvent: []byte(`{"id":"` + id + `"}`)})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	if o := fire("al_1", "d1", now, 0); o != alert.Queued {
		t.Fatalf("first: %v", o)
	}
	if o := fire("al_1", "d1", now, 0); o != alert.Duplicate {
		t.Fatalf("same id: %v", o)
	}
	if o := fire("al_2", "d1", now.Add(time.Second), time.Minute); o != alert.Suppressed {
		t.Fatalf("within cooldown: %v", o)
	}
	fire("al_3", "d1", now.Add(2*time.Minute), time.Minute)
	fire("al_4", "d2", now.Add(3*time.Minute), 0)

	jobs, err := a.Due(ctx, "acme", now.Add(time.Hour), 10)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("due: %+v %v, want the heads of d1's and d2's queues", jobs, err)
	}
	byDevice := map[string]webhook.Job{}
	for _, j := range jobs {
		_, d := splitPair(j.Queue)
		byDevice[d] = j
	}
	if byDevice["d1"].AlertID != "al_1" || byDevice["d1"].URL != rule.Webhook.URL || string(byDevice["d1"].Body) != `{"id":"al_1"}` {
		t.Fatalf("d1 head: %+v", byDevice["d1"])
	}
	// d1: a retry holds the queue; d2: dead-lettered.
	later := now.Add(time.Hour)
	if err := a.Record(ctx, byDevice["d1"], webhook.Result{Attempt: webhook.Attempt{Verdict: webhook.Retry, Status: 503}, Attempts: 1, Next: later.Add(time.Minute)}, later); err != nil {
		t.Fatal(err)
	}
	if err := a.Record(ctx, byDevice["d2"], webhook.Result{Attempt: webhook.Attempt{Verdict: webhook.Dead, Status: 404, Err: "HTTP 404"}, Attempts: 1}, later); err != nil {
		t.Fatal(err)
	}
	if jobs, _ := a.Due(ctx, "acme", later, 10); len(jobs) != 0 {
		t.Fatalf("due before the retry time: %+v", jobs)
	}
	jobs, _ = a.Due(ctx, "acme", later.Add(time.Minute), 10)
	if len(jobs) != 1 || jobs[0].AlertID != "al_1" || jobs[0].Attempts != 1 {
		t.Fatalf("retry: %+v", jobs)
	}
	if err := a.Record(ctx, jobs[0], webhook.Result{Attempt: webhook.Attempt{Verdict: webhook.Delivered, Status: 200}, Attempts: 2}, later); err != nil {
		t.Fatal(err)
	}
	jobs, _ = a.Due(ctx, "acme", later.Add(time.Minute), 10)
	if len(jobs) != 1 || jobs[0].AlertID != "al_3" {
		t.Fatalf("after al_1 delivered, d1's next: %+v", jobs)
	}

	page, err := a.ListAlerts(ctx, "acme", alert.Query{Limit: 2})
	if err != nil || len(page.Alerts) != 2 || page.Alerts[0].ID != "al_1" || page.Alerts[0].State != alert.StateDelivered || page.Next == "" {
		t.Fatalf("page 1: %+v %v", page, err)
	}
	page, _ = a.ListAlerts(ctx, "acme", alert.Query{Limit: 2, Cursor: page.Next})
	if len(page.Alerts) != 1 || page.Alerts[0].ID != "al_4" || page.Alerts[0].State != alert.StateDead || page.Next != "" {
		t.Fatalf("page 2: %+v", page)
	}
	if page, _ := a.ListAlerts(ctx, "acme", alert.Query{Limit: 10, Device: "d2"}); len(page.Alerts) != 1 {
		t.Fatalf("device filter: %+v", page)
	}
	dead, _ := a.ListAlerts(ctx, "acme", alert.Query{Limit: 10, Dead: true})
	if len(dead.Alerts) != 1 || dead.Alerts[0].LastStatus != 404 {
		t.Fatalf("dead letters: %+v", dead)
	}
	if err := a.Replay(ctx, "acme", "al_3"); !errors.Is(err, alert.ErrPending) {
		t.Fatalf("replay of a pending alert: %v", err)
	}
	if err := a.Replay(ctx, "acme", "al_4"); err != nil {
		t.Fatal(err)
	}
	if dead, _ := a.ListAlerts(ctx, "acme", alert.Query{Limit: 10, Dead: true}); len(dead.Alerts) != 0 {
		t.Fatalf("replayed alert still dead: %+v", dead)
	}
	jobs, _ = a.Due(ctx, "acme", later.Add(time.Minute), 10)
	if len(jobs) != 2 {
		t.Fatalf("after replay: %+v", jobs)
	}
	if err := a.Replay(ctx, "other", "al_4"); !errors.Is(err, alert.ErrNotFound) {
		t.Fatalf("replay across tenants: %v", err)
	}
	// Threshold states never move back to an older fix.
	sk := alert.StateKey{Rule: "r1", Device: "d1"}
	for _, st := range []alert.State{{LastMS: 2000, Active: true}, {LastMS: 1000}} {
		if err := a.SaveStates(ctx, "acme", map[alert.StateKey]alert.State{sk: st}); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := a.States(ctx, "acme", []alert.StateKey{sk, {Rule: "r1", Device: "none"}}); err != nil || got[sk] != (alert.State{LastMS: 2000, Active: true}) {
		t.Fatalf("states: %+v %v", got, err)
	}

	// Replacing the rule forgets its cooldowns: d1 fires again at once.
	if err := a.PutRule(ctx, "acme", rule); err != nil {
		t.Fatal(err)
	}
	if n, _ := client.HLen(ctx, "gt:{acme}:alerts:cooldown").Result(); n != 0 {
		t.Fatalf("%d cooldowns left after replacing the rule", n)
	}
	if n, _ := client.XLen(ctx, "gt:{acme}:eventlog").Result(); n != 3 {
		t.Fatalf("event log has %d entries, want the 3 fired alerts", n)
	}
	// The outbox holds 3 events, its capacity: the next alert is refused
	// before anything is written.
	if _, err := a.Fire(ctx, alert.Fired{ID: "al_5", Tenant: "acme", Rule: rule, Device: "d3", At: now}, alert.Emitted{CloudEvent: []byte(`{}`)}); !errors.Is(err, alert.ErrOutboxFull) {
		t.Fatalf("fire into a full outbox: %v", err)
	}
	if n, _ := client.Exists(ctx, "gt:{acme}:alert:al_5").Result(); n != 0 {
		t.Fatal("alert stored although its event was refused")
	}
	entries, err := client.XRange(ctx, "gt:{acme}:events", "-", "+").Result()
	if err != nil || len(entries) != 3 || entries[0].Values["type"] != alert.TypeAlertFired || entries[0].Values["id"] != "al_1" || entries[0].Values["subject"] != "d1" {
		t.Fatalf("event outbox: %+v %v", entries, err)
	}
}
