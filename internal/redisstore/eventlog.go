package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/eventlog"
	"github.com/geotrack/geotrack/internal/fix"
)

// The event log (issue 9 §4): per tenant one stream, gt:{<tenant>}:eventlog
// (the tenant's hash tag, so it shares a slot with the tenant's other keys
// and can be written in the same transaction or script as the state change
// causing the events), each entry one structured-mode CloudEvent JSON in
// field "ce", trimmed by MINID to the hot retention. The geofence state
// script (geostate_commit.lua) and the alert engine write the same layout.

// EventLogField is the stream field holding the CloudEvent.
const EventLogField = "ce"

// EventLogKey names a tenant's event log stream.
func EventLogKey(prefix, tenant string) string {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return prefix + ":{" + tenant + "}:eventlog"
}

// AppendEvents queues XADDs of structured CloudEvents to tenant's event
// log in pipe, trimming entries older than now-retention: use it inside the
// TxPipelined that writes the state change (and the outbox entries).
func AppendEvents(ctx context.Context, pipe redis.Pipeliner, prefix, tenant string, retention time.Duration, now time.Time, ces ...[]byte) {
	key := EventLogKey(prefix, tenant)
	minID := strconv.FormatInt(now.Add(-retention).UnixMilli(), 10)
	for _, ce := range ces {
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: key, MinID: minID, Approx: true, Values: []any{EventLogField, ce}})
	}
}

// clockSkew is how much later than it was appended an event's time may be
// (devices with fast clocks): reading from From starts this much earlier.
const clockSkew = 10 * time.Minute

// maxScanPerPage bounds the entries one page reads while filtering.
const maxScanPerPage = 20000

// ReadEvents pages through the tenant's event log in append order,
// filtering by subject (device), type and event time. A page may hold
// fewer than Limit events and still have a Next: the scan stops after
// maxScanPerPage entries so one request stays cheap.
func (s *Store) ReadEvents(ctx context.Context, tenant string, q eventlog.Query) (eventlog.Page, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return eventlog.Page{}, err
	}
	key := k.base + "eventlog"
	start := "-"
	switch {
	case q.Cursor != "":
		if !validStreamID(q.Cursor) {
			return eventlog.Page{}, &fix.FieldError{Field: "cursor", Msg: "not a cursor this function returned"}
		}
		start = "(" + q.Cursor
	case !q.From.IsZero():
		start = strconv.FormatInt(max(0, q.From.Add(-clockSkew).UnixMilli()), 10)
	}
	page := eventlog.Page{Events: []json.RawMessage{}}
	scanned := 0
	batch := int64(min(1000, max(q.Limit*2, 100)))
	for {
		msgs, err := s.client.XRangeN(ctx, key, start, "+", batch).Result()
		if err != nil {
			return eventlog.Page{}, fmt.Errorf("read event log: %w", err)
		}
		for _, m := range msgs {
			scanned++
			ce, _ := m.Values[EventLogField].(string)
			if matchEvent(ce, q) {
				page.Events = append(page.Events, json.RawMessage(ce))
			}
			if len(page.Events) == q.Limit || scanned >= maxScanPerPage {
				page.Next = m.ID
				return page, nil
			}
		}
		if int64(len(msgs)) < batch {
			return page, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// matchEvent reports whether ce passes q. Entries are in append order, not
// event-time order (a device may report late), so To never ends the scan.
func matchEvent(ce string, q eventlog.Query) bool {
	var head struct {
		Type    string    `json:"type"`
		Subject string    `json:"subject"`
		Time    time.Time `json:"time"`
	}
	if json.Unmarshal([]byte(ce), &head) != nil {
		return false
	}
	return (q.Device == "" || head.Subject == q.Device) && (q.Type == "" || head.Type == q.Type) &&
		(q.From.IsZero() || !head.Time.Before(q.From)) && (q.To.IsZero() || !head.Time.After(q.To))
}

func validStreamID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	return err1 == nil && err2 == nil
}
