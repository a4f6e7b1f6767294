package forward

import (
	"fmt"

	"github.com/geotrack/geotrack/internal/fix"
	"github.com/geotrack/geotrack/internal/outbox"
	"github.com/geotrack/geotrack/internal/sender"
)

// CloudEvents attributes of a forwarded batch.
const (
	ContentType = "application/cloudevents+json"
	SpecVersion = "1.0"
)

// Source is the CloudEvents source of the batches edge node nodeID sends.
func Source(nodeID string) string { return "urn:geotrack:edge:" + nodeID }

// EventID names a batch by its node and first and last stream ids. Resending
// the very same batch after a crash yields the same id, so the cloud's
// source+id dedup stores it once; overlapping batches of other sizes get other
// ids and rely on the cloud's device+ts dedup.
func EventID(nodeID string, batch []outbox.Entry) string {
	return fmt.Sprintf("%s-%s-%s", nodeID, batch[0].ID, batch[len(batch)-1].ID)
}

// encodeBatch builds the event for batch (sender.AppendStructured, the
// one encoder of outgoing events). Every attribute derives from the
// entries, so a resent batch is byte-for-byte the same event: time is when
// the newest entry was queued, not when it is sent. The tenant travels as
// an extension attribute: one edge node may serve several tenants.
func encodeBatch(nodeID string, batch []outbox.Entry) (id string, body []byte, err error) {
	if len(batch) == 0 {
		return "", nil, fmt.Errorf("encode batch: empty")
	}
	queued, err := outbox.EntryTime(batch[len(batch)-1].ID)
	if err != nil {
		return "", nil, fmt.Errorf("encode batch: %w", err)
	}
	env := sender.Envelope{
		ID:      EventID(nodeID, batch),
		Source:  Source(nodeID),
		Subject: singleDevice(batch),
		Time:    queued,
		Tenant:  batch[0].Tenant,
	}
	fixes := make([]fix.Fix, len(batch))
	for i, e := range batch {
		fixes[i] = e.Fix
	}
	body, err = sender.AppendStructured(make([]byte, 0, 256+len(batch)*200), env, fixes, true)
	if err != nil {
		return "", nil, fmt.Errorf("encode batch %s: %w", env.ID, err)
	}
	return env.ID, body, nil
}

// singleDevice is the device when the whole batch is one device's, else "".
func singleDevice(batch []outbox.Entry) string {
	d := batch[0].Fix.Device
	for _, e := range batch[1:] {
		if e.Fix.Device != d {
			return ""
		}
	}
	return d
}

// sameTenantPrefix is the leading run of entries of the first entry's tenant:
// one event carries one tenant, and taking a prefix keeps batches contiguous
// (cheap acks) and deterministic (same id on resend).
func sameTenantPrefix(entries []outbox.Entry) []outbox.Entry {
	for i, e := range entries {
		if e.Tenant != entries[0].Tenant {
			return entries[:i]
		}
	}
	return entries
}
