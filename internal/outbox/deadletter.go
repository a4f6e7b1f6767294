package outbox

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/geotrack/geotrack/internal/clip"
	"github.com/geotrack/geotrack/internal/fix"
)

// maxBodyStored bounds the response body kept with a dead letter.
const maxBodyStored = 2048

// DeadLetterItem names one entry to dead-letter and why.
type DeadLetterItem struct {
	ID     string
	Reason string
}

// DeadLetterInfo is the cloud's answer that condemned the entries, if any.
type DeadLetterInfo struct {
	Status int    // HTTP status; 0 when not from a response
	Body   string // response body, truncated to 2 KiB
}

// DeadEntry is one entry of the dead-letter stream.
type DeadEntry struct {
	ID       string // id in the dead-letter stream
	OrigID   string // id it had in the outbox
	Tenant   string
	Fix      string // the stored fix JSON, verbatim (it may be what was corrupt)
	Reason   string
	Status   int
	Body     string
	At       time.Time
	Original map[string]string // every field the outbox entry had
}

// DeadLetter moves entries out of the outbox into the dead-letter stream,
// atomically per call, and returns how many were moved (entries already
// gone are skipped). It logs each at error level: a dead letter is data the
// cloud will not get unless an operator replays it.
func (o *Outbox) DeadLetter(ctx context.Context, info DeadLetterInfo, items ...DeadLetterItem) (int64, error) {
	return o.deadLetter(ctx, info, items)
}

func (o *Outbox) deadLetter(ctx context.Context, info DeadLetterInfo, items []DeadLetterItem) (int64, error) {
	if len(items) == 0 {
		return 0, nil
	}
	body := info.Body
	if len(body) > maxBodyStored {
		body = body[:maxBodyStored]
	}
	status := ""
	if info.Status != 0 {
		status = strconv.Itoa(info.Status)
	}
	args := make([]any, 0, 4+2*len(items))
	args = append(args, fix.FormatTime(o.now()), status, body, o.deadMaxLen)
	for _, it := range items {
		if _, err := parseStreamID(it.ID); err != nil {
			return 0, fmt.Errorf("dead-letter: %w", err)
		}
		args = append(args, it.ID, it.Reason)
	}
	moved, err := deadLetterScript.Run(ctx, o.client, []string{o.key, o.deadKey, o.countKey}, args...).Int64()
	if err != nil {
		return 0, fmt.Errorf("dead-letter %d entries: %w", len(items), err)
	}
	o.deadLettered.Add(float64(moved))
	for _, it := range items {
		o.log.Error("outbox entry dead-lettered", "key", o.key, "id", it.ID,
			"reason", it.Reason, "status", info.Status, "body", clip.String(body, 256))
	}
	return moved, nil
}

// DeadLetters returns up to max dead letters, oldest first, for inspection
// and replay.
func (o *Outbox) DeadLetters(ctx context.Context, max int) ([]DeadEntry, error) {
	msgs, err := o.client.XRangeN(ctx, o.deadKey, "-", "+", int64(max)).Result()
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	out := make([]DeadEntry, 0, len(msgs))
	for _, m := range msgs {
		d := DeadEntry{ID: m.ID, Original: map[string]string{}}
		for k, v := range m.Values {
			s, _ := v.(string)
			switch k {
			case "dl_id":
				d.OrigID = s
			case "dl_reason":
				d.Reason = s
			case "dl_status":
				d.Status, _ = strconv.Atoi(s)
			case "dl_body":
				d.Body = s
			case "dl_at":
				d.At, _ = fix.ParseTime(s)
			default:
				d.Original[k] = s
			}
		}
		d.Fix = d.Original[fieldFix]
		d.Tenant = d.Original[fieldTenant]
		out = append(out, d)
	}
	return out, nil
}
