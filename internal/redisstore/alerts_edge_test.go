package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/eventlog"
	"github.com/geotrack/geotrack/internal/testenv"
	"github.com/geotrack/geotrack/internal/webhook"
)

// TestEdgeAlertUplink: on a real Redis, an alert an edge store (AtEdge)
// fires is marked for the cloud, its final delivery state marks it again,
// and an ack of an older version leaves the newer one queued; the cloud's
// import lists it once with the node, takes later states only, never
// queues it, and leaves its own alerts alone.
func TestEdgeAlertUplink(t *testing.T) {
	// A single Redis, and a 3-master Cluster where every script must touch
	// one slot only (the tenant's).
	testenv.OnSingleAndCluster(t, func(t *testing.T, url string) { edgeAlertUplink(t, openClient(t, url)) })
}

func edgeAlertUplink(t *testing.T, client redis.UniversalClient) {
	ctx := context.Background()
	edgeStore := NewAlerts(client, time.Hour).AtEdge("site-1")
	edgeStore.prefix = "edge" // the edge's Redis and the cloud's share this server here
	rule := alert.Rule{ID: "r1", Name: "depot", On: []string{alert.TypeGeofenceEntered},
		Webhook: alert.Webhook{URL: "https://h.example.com/", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}
	if err := edgeStore.PutRule(ctx, "acme", rule); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	ce := []byte(`{"id":"al_e1","type":"io.geotrack.alert.fired","tenant":"acme"}`)
	if o, err := edgeStore.Fire(ctx, alert.Fired{ID: "al_e1", Tenant: "acme", Rule: rule, Device: "van-1", At: now},
		alert.Emitted{Source: "urn:test", Data: []byte(`{}`), CloudEvent: ce}); err != nil || o != alert.Queued {
		t.Fatalf("fire: %v %v", o, err)
	}
	if ts, err := edgeStore.UplinkTenants(ctx); err != nil || len(ts) != 1 || ts[0] != "acme" {
		t.Fatalf("uplink tenants: %v %v", ts, err)
	}
	fired, err := edgeStore.PeekUplink(ctx, "acme", 10)
	if err != nil || len(fired) != 1 || fired[0].Record.ID != "al_e1" || fired[0].Record.Node != "site-1" ||
		fired[0].Record.State != alert.StatePending || string(fired[0].Record.Event) != string(ce) {
		t.Fatalf("peek after fire: %+v %v", fired, err)
	}
	// Delivered while the pending record was on its way up, in the very
	// millisecond it fired.
	jobs, err := edgeStore.Due(ctx, "acme", now.Add(time.Minute), 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("due: %+v %v", jobs, err)
	}
	if err := edgeStore.Record(ctx, jobs[0], webhook.Result{Attempt: webhook.Attempt{Verdict: webhook.Delivered, Status: 204}, Attempts: 1}, now); err != nil {
		t.Fatal(err)
	}
	if err := edgeStore.AckUplink(ctx, "acme", fired); err != nil {
		t.Fatal(err)
	}
	final, err := edgeStore.PeekUplink(ctx, "acme", 10)
	if err != nil || len(final) != 1 || final[0].Record.State != alert.StateDelivered || final[0].Record.DoneAt == nil || final[0].Mark == fired[0].Mark {
		t.Fatalf("the acked older version took the delivered one along: %+v %v", final, err)
	}

	cloud := NewAlerts(client, time.Hour)
	imp, err := cloud.ImportEdge(ctx, "acme", "site-1", []alert.Record{fired[0].Record})
	if err != nil || imp != (alert.Imported{Added: 1}) {
		t.Fatalf("import pending: %+v %v", imp, err)
	}
	for _, again := range []alert.Record{fired[0].Record, final[0].Record} {
		if _, err := cloud.ImportEdge(ctx, "acme", "site-1", []alert.Record{again}); err != nil {
			t.Fatal(err)
		}
	}
	// Sent again, and pending after delivered: changes nothing.
	imp, err = cloud.ImportEdge(ctx, "acme", "site-1", []alert.Record{final[0].Record, fired[0].Record})
	if err != nil || imp != (alert.Imported{Unchanged: 2}) {
		t.Fatalf("import again: %+v %v", imp, err)
	}
	page, err := cloud.ListAlerts(ctx, "acme", alert.Query{Limit: 10})
	if err != nil || len(page.Alerts) != 1 {
		t.Fatalf("cloud list: %+v %v", page, err)
	}
	got := page.Alerts[0]
	if got.ID != "al_e1" || got.Node != "site-1" || got.State != alert.StateDelivered || got.Attempts != 1 || got.LastStatus != 204 ||
		!got.FiredAt.Equal(now) || got.Rule != "r1" || got.Device != "van-1" || string(got.Event) != string(ce) {
		t.Fatalf("cloud record: %+v", got)
	}
	if due, _ := cloud.Due(ctx, "acme", now.Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("the cloud queued an edge alert for delivery: %+v", due)
	}
	if err := cloud.Replay(ctx, "acme", "al_e1"); !errors.Is(err, alert.ErrFiredAtEdge) {
		t.Fatalf("replay of an edge alert: %v", err)
	}
	if page, _ := cloud.ListAlerts(ctx, "globex", alert.Query{Limit: 10}); len(page.Alerts) != 0 {
		t.Fatalf("another tenant lists it: %+v", page)
	}

	// A dead one is a dead letter in the cloud too.
	dead := final[0].Record
	dead.ID, dead.State, dead.LastStatus = "al_e2", alert.StateDead, 410
	if imp, err := cloud.ImportEdge(ctx, "acme", "site-1", []alert.Record{dead}); err != nil || imp.Added != 1 {
		t.Fatalf("import dead: %+v %v", imp, err)
	}
	if page, _ := cloud.ListAlerts(ctx, "acme", alert.Query{Limit: 10, Dead: true}); len(page.Alerts) != 1 || page.Alerts[0].ID != "al_e2" {
		t.Fatalf("cloud dead letters: %+v", page)
	}
	// An alert the cloud fired itself is not the edge's to change;
	// one past the retention is not stored.
	if _, err := cloud.Fire(ctx, alert.Fired{ID: "al_c1", Tenant: "acme", Rule: rule, Device: "van-2", At: now},
		alert.Emitted{Source: "urn:test", Data: []byte(`{}`), CloudEvent: []byte(`{"id":"al_c1"}`)}); err != nil {
		t.Fatal(err)
	}
	forged := final[0].Record
	forged.ID = "al_c1"
	old := final[0].Record
	old.ID, old.FiredAt = "al_e3", now.Add(-2*time.Hour)
	if imp, err := cloud.ImportEdge(ctx, "acme", "site-1", []alert.Record{forged, old}); err != nil || imp != (alert.Imported{Unchanged: 2}) {
		t.Fatalf("import over a cloud alert and an expired one: %+v %v", imp, err)
	}
	if page, _ := cloud.ListAlerts(ctx, "acme", alert.Query{Limit: 10, Device: "van-2"}); len(page.Alerts) != 1 || page.Alerts[0].Node != "" ||
		page.Alerts[0].State != alert.StatePending {
		t.Fatalf("the cloud's own alert: %+v", page)
	}

	// A device erased after its alert fired: the record is not stored.
	if err := NewPrivacy(client, "").PutTombstone(ctx, "acme", "van-4", now.Add(time.Minute), "0123456789abcdef0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	erasedDev := final[0].Record
	erasedDev.ID, erasedDev.Device = "al_e4", "van-4"
	if imp, err := cloud.ImportEdge(ctx, "acme", "site-1", []alert.Record{erasedDev}); err != nil || imp != (alert.Imported{Unchanged: 1}) {
		t.Fatalf("import of an erased device's alert: %+v %v", imp, err)
	}
	if page, _ := cloud.ListAlerts(ctx, "acme", alert.Query{Limit: 10, Device: "van-4"}); len(page.Alerts) != 0 {
		t.Fatalf("the erased device's alert is listed: %+v", page)
	}

	// Acked at the mark peeked: the queue is empty.
	if err := edgeStore.AckUplink(ctx, "acme", final); err != nil {
		t.Fatal(err)
	}
	if rest, err := edgeStore.PeekUplink(ctx, "acme", 10); err != nil || len(rest) != 0 {
		t.Fatalf("after ack: %+v %v", rest, err)
	}
	// Without a forwarder sending them up, marks live no longer than the
	// retention (1 h here): a fire two hours on trims the older ones.
	for i, at := range []time.Time{now, now.Add(2 * time.Hour)} {
		id := fmt.Sprintf("al_t%d", i)
		if _, err := edgeStore.Fire(ctx, alert.Fired{ID: id, Tenant: "acme", Rule: rule, Device: "van-3", At: at},
			alert.Emitted{Source: "urn:test", Data: []byte(`{}`), CloudEvent: []byte(`{"id":"` + id + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := client.ZCard(ctx, "edge:{acme}:alerts:up").Val(); n != 1 {
		t.Fatalf("%d marks after the retention, want the newest only", n)
	}
	// The cloud's own store marks nothing.
	if n := client.Exists(ctx, "gt:{acme}:alerts:up").Val(); n != 0 {
		t.Fatalf("the cloud store marked alerts for an uplink")
	}
}

// TestEdgeAlertImportLogsOnce: the cloud's import of an edge alert appends
// its alert.fired CloudEvent to the tenant's event log when it stores the
// record for the first time, and never again: not for the same record
// sent again, a later delivery state of it, a record over an alert the
// cloud fired itself, one past the retention or of an erased device. The
// late event lands at the log's end (append order) and is found by its
// own time. Single Redis and a 3-master Cluster (one slot per script).
func TestEdgeAlertImportLogsOnce(t *testing.T) {
	testenv.OnSingleAndCluster(t, func(t *testing.T, url string) { edgeAlertImportLogsOnce(t, openClient(t, url)) })
}

func edgeAlertImportLogsOnce(t *testing.T, client redis.UniversalClient) {
	ctx := context.Background()
	log := New(client, Options{})
	woken := 0
	cloud := NewAlerts(client, time.Hour).WithEventOutbox(100, func(tenant string) {
		if tenant == "acme" {
			woken++
		}
	})
	now := time.Now().UTC().Truncate(time.Millisecond)
	firedAt := now.Add(-20 * time.Minute) // fired at the edge during an outage
	rule := alert.Rule{ID: "r1", Name: "depot", On: []string{alert.TypeGeofenceEntered},
		Webhook: alert.Webhook{URL: "https://h.example.com/", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}
	event := func(id, device string, at time.Time) alert.Record {
		em, err := alert.Fired{ID: id, Tenant: "acme", Rule: rule, Device: device, At: at, Cause: []byte(`{}`)}.Event("urn:edge:site-1")
		if err != nil {
			t.Fatal(err)
		}
		return alert.Record{ID: id, Rule: rule.ID, Name: rule.Name, Kind: rule.Kind(), Device: device, FiredAt: at,
			Event: em.CloudEvent, State: alert.StatePending}
	}
	logged := func(q eventlog.Query) []string {
		t.Helper()
		q.Type, q.Limit = alert.TypeAlertFired, 100
		page, err := log.ReadEvents(ctx, "acme", q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ce := range page.Events {
			var head struct{ ID string }
			if err := json.Unmarshal(ce, &head); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, head.ID)
		}
		return ids
	}

	// The cloud fired one of its own a minute ago: in the log already.
	own := event("al_c1", "van-2", now.Add(-time.Minute))
	em := alert.Emitted{Source: "urn:cloud", Data: []byte(`{}`), CloudEvent: own.Event}
	if o, err := cloud.Fire(ctx, alert.Fired{ID: own.ID, Tenant: "acme", Rule: rule, Device: "van-2", At: own.FiredAt}, em); err != nil || o != alert.Queued {
		t.Fatalf("cloud fire: %v %v", o, err)
	}

	pending := event("al_e1", "van-1", firedAt)
	delivered := pending
	delivered.State, delivered.Attempts, delivered.LastStatus = alert.StateDelivered, 1, 204
	done := firedAt.Add(time.Second)
	delivered.DoneAt = &done
	forged := event("al_c1", "van-2", now.Add(-time.Minute))
	expired := event("al_e3", "van-1", now.Add(-2*time.Hour))
	if err := NewPrivacy(client, "").PutTombstone(ctx, "acme", "van-4", now, "0123456789abcdef0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	erased := event("al_e4", "van-4", firedAt)

	for _, step := range []struct {
		name string
		recs []alert.Record
		want alert.Imported
	}{
		{"first import", []alert.Record{pending}, alert.Imported{Added: 1}},
		{"sent again", []alert.Record{pending}, alert.Imported{Unchanged: 1}},
		{"delivery state", []alert.Record{delivered}, alert.Imported{Updated: 1}},
		{"both again", []alert.Record{delivered, pending}, alert.Imported{Unchanged: 2}},
		{"over the cloud's own, expired, erased", []alert.Record{forged, expired, erased}, alert.Imported{Unchanged: 3}},
	} {
		imp, err := cloud.ImportEdge(ctx, "acme", "site-1", step.recs)
		if err != nil || imp != step.want {
			t.Fatalf("%s: %+v %v, want %+v", step.name, imp, err, step.want)
		}
		if got := logged(eventlog.Query{}); len(got) != 2 || got[0] != "al_c1" || got[1] != "al_e1" {
			t.Fatalf("after %s the log holds %v, want al_c1 then al_e1 once (append order)", step.name, got)
		}
	}
	// The event keeps the edge's time: a window around it finds it, one
	// after it (holding the cloud's own) does not.
	if got := logged(eventlog.Query{From: firedAt.Add(-time.Second), To: firedAt.Add(time.Second)}); len(got) != 1 || got[0] != "al_e1" {
		t.Fatalf("window around the edge's time: %v", got)
	}
	if got := logged(eventlog.Query{From: now.Add(-2 * time.Minute)}); len(got) != 1 || got[0] != "al_c1" {
		t.Fatalf("window after the edge's time: %v", got)
	}
	if got := logged(eventlog.Query{Device: "van-1"}); len(got) != 1 || got[0] != "al_e1" {
		t.Fatalf("device van-1: %v", got)
	}
	if page, err := log.ReadEvents(ctx, "globex", eventlog.Query{Limit: 10}); err != nil || len(page.Events) != 0 {
		t.Fatalf("another tenant's log: %+v %v", page, err)
	}

	// The event outbox (the sink's) holds it once too, as the edge made it.
	outbox := func() []redis.XMessage {
		t.Helper()
		msgs, err := client.XRange(ctx, EventOutboxKey(DefaultKeyPrefix, "acme"), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		return msgs
	}
	queued := outbox()
	if len(queued) != 2 || queued[0].Values["id"] != "al_c1" {
		t.Fatalf("outbox: %+v, want the cloud's al_c1 then the edge's al_e1", queued)
	}
	wantData, _ := json.Marshal(alert.FiredData{Rule: "r1", Name: "depot", Kind: rule.Kind(), Device: "van-1", Event: []byte(`{}`)})
	if v := queued[1].Values; v["id"] != "al_e1" || v["type"] != alert.TypeAlertFired || v["source"] != "urn:edge:site-1" ||
		v["subject"] != "van-1" || v["time"] != fmt.Sprint(firedAt.UnixMilli()) || v["data"] != string(wantData) {
		t.Fatalf("outbox entry of the edge's alert: %+v", v)
	}
	if woken != 2 {
		t.Fatalf("relay woken %d times, want twice (the cloud's fire, the one record added)", woken)
	}
	if ok, err := client.SIsMember(ctx, EmittersKey(DefaultKeyPrefix), "acme").Result(); err != nil || !ok {
		t.Fatalf("acme not among the relay's outboxes: %v %v", ok, err)
	}
	// A full outbox refuses a new record before any write: not listed, not
	// logged; the node sends it again later. Known records still update.
	full := NewAlerts(client, time.Hour).WithEventOutbox(2, nil)
	late := event("al_e5", "van-1", firedAt)
	if imp, err := full.ImportEdge(ctx, "acme", "site-1", []alert.Record{late}); !errors.Is(err, alert.ErrOutboxFull) || imp != (alert.Imported{}) {
		t.Fatalf("import into a full outbox: %+v %v, want ErrOutboxFull", imp, err)
	}
	if _, err := full.ImportEdge(ctx, "acme", "site-1", []alert.Record{pending}); err != nil {
		t.Fatalf("a known record with a full outbox: %v", err)
	}
	if page, _ := full.ListAlerts(ctx, "acme", alert.Query{Limit: 10, Device: "van-1"}); len(page.Alerts) != 1 {
		t.Fatalf("listed after a refused import: %+v", page)
	}
	if got := logged(eventlog.Query{}); len(got) != 2 || len(outbox()) != 2 {
		t.Fatalf("after a refused import: log %v, outbox %d", got, len(outbox()))
	}
	// Without a sink nothing is queued.
	bare := NewAlerts(client, time.Hour)
	if imp, err := bare.ImportEdge(ctx, "acme", "site-1", []alert.Record{late}); err != nil || imp.Added != 1 || len(outbox()) != 2 {
		t.Fatalf("import without a sink: %+v %v, outbox %d", imp, err, len(outbox()))
	}
	// An event the relay could not rebuild (no source) is logged, not queued.
	sourceless := event("al_e6", "van-1", firedAt)
	sourceless.Event = []byte(`{"id":"al_e6","type":"io.geotrack.alert.fired","tenant":"acme","subject":"van-1"}`)
	if imp, err := cloud.ImportEdge(ctx, "acme", "site-1", []alert.Record{sourceless}); err != nil || imp.Added != 1 || len(outbox()) != 2 {
		t.Fatalf("import of a sourceless event: %+v %v, outbox %d", imp, err, len(outbox()))
	}
	if got := logged(eventlog.Query{}); len(got) != 4 || got[3] != "al_e6" {
		t.Fatalf("log after the sourceless event: %v", got)
	}
}
