// Package eventoutbox delivers the events geotrack's functions emit. An
// emitting function never sends from its request path: it queues each event
// in the tenant's outbox (a Redis stream, gt:{<tenant>}:events) atomically
// with the state change that causes it (for location.updated, the hot
// store's save script: intake.Announce), and a Relay delivers the
// outboxes to the event sink, in order, removing an entry only after the
// sink acknowledged it. Event ids are deterministic, so a crash between
// delivery and removal causes a duplicate that consumers drop, never a loss.
//
// With no sink configured, emitters queue nothing (there is no relay to
// drain it), so the outbox cannot grow unbounded.
package eventoutbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/redisstore"
)

// Stream entry fields (written by redisstore's save.lua and by Queue).
const (
	fieldType    = "type"
	fieldID      = "id"
	fieldSource  = "source"
	fieldSubject = "subject"
	fieldTime    = "time"  // unix ms
	fieldTrace   = "trace" // traceparent, "" = none
	fieldData    = "data"  // JSON
)

// Event is one event to queue from Go: the way emitters other than the hot
// store's save (geofence, alert and trip events) use the outbox.
type Event struct {
	Type, Source, Subject string
	// ID must be deterministic from what caused the event (e.g.
	// redisstore.EventID of the fix), so a re-run queues the same id.
	ID          string
	Time        time.Time
	TraceParent string
	Data        json.RawMessage
}

// Queue adds e to tenant's outbox inside pipe. Use a transaction
// (client.TxPipelined) that also writes the state change causing the event;
// its keys must carry the tenant's hash tag {tenant} for Redis Cluster.
// Call Register once per tenant before (outside the transaction: the
// emitters set lives in another slot).
func Queue(ctx context.Context, pipe redis.Pipeliner, prefix, tenant string, e Event) {
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: redisstore.EventOutboxKey(prefix, tenant), Values: []any{
		fieldType, e.Type, fieldID, e.ID, fieldSource, e.Source, fieldSubject, e.Subject,
		fieldTime, strconv.FormatInt(e.Time.UnixMilli(), 10), fieldTrace, e.TraceParent, fieldData, string(e.Data),
	}})
}

// Register lists tenant among the outboxes the relay drains.
func Register(ctx context.Context, client redis.UniversalClient, prefix, tenant string) error {
	if err := client.SAdd(ctx, redisstore.EmittersKey(prefix), tenant).Err(); err != nil {
		return fmt.Errorf("register tenant %q for the event relay: %w", tenant, err)
	}
	return nil
}

// decode rebuilds the CloudEvent of an outbox entry, signed by signer (nil:
// unsigned). Everything comes from the entry, so a redelivery is
// byte-for-byte the same event.
func decode(tenant string, m redis.XMessage, signer *auth.EventSigner) (event.Event, error) {
	str := func(k string) string { s, _ := m.Values[k].(string); return s }
	typ, id, source, data := str(fieldType), str(fieldID), str(fieldSource), str(fieldData)
	if typ == "" || id == "" || source == "" {
		return event.Event{}, fmt.Errorf("entry %s: type, id and source are required", m.ID)
	}
	ms, err := strconv.ParseInt(str(fieldTime), 10, 64)
	if err != nil {
		return event.Event{}, fmt.Errorf("entry %s: time %q: %w", m.ID, str(fieldTime), err)
	}
	if !json.Valid([]byte(data)) {
		return event.Event{}, fmt.Errorf("entry %s: data is not JSON", m.ID)
	}
	e := cloudevents.NewEvent()
	e.SetID(id)
	e.SetSource(source)
	e.SetType(typ)
	e.SetTime(time.UnixMilli(ms).UTC())
	if s := str(fieldSubject); s != "" {
		e.SetSubject(s)
	}
	if tp := str(fieldTrace); tp != "" {
		e.SetExtension("traceparent", tp)
	}
	e.SetExtension(events.ExtTenant, tenant)
	if signer != nil {
		// Receivers take a signed event as their tenant's service: the
		// connectors that deliver it add no Authorization header.
		e.SetExtension(events.ExtSignature, signer.Sign(tenant, id, typ, source))
	}
	e.SetDataContentType(cloudevents.ApplicationJSON)
	e.DataEncoded, e.DataBase64 = []byte(data), false
	if err := e.Validate(); err != nil {
		return event.Event{}, fmt.Errorf("entry %s: %w", m.ID, err)
	}
	return e, nil
}
