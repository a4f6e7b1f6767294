package forward

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/geotrack/geotrack/internal/alert"
	"github.com/geotrack/geotrack/internal/clip"
)

// Bounds of one alert report: records (at most alert.MaxEdgeReport), and
// bytes, well below the cloud's default body limit (MAX_BODY_BYTES, 1 MiB):
// a record holds its causing event, which can be a batch of fixes.
const (
	alertReportSize  = 100
	alertReportBytes = 512 << 10
)

// uplinkAlerts sends the records of the alerts this node fired (and their
// delivery states) to the cloud's alerts function, after the fixes and
// under the same lock, with the same verdicts: acked after a 2xx, retried
// (the run backs off) on what classify retries. A record the cloud refuses
// on its own is dropped with an error log: it is this node's own store's,
// so a refusal is a bug the retry would not fix. The cloud stores records
// by id, so one sent twice is listed once.
func (f *Forwarder) uplinkAlerts(ctx context.Context) (int, error) {
	if f.cfg.AlertsURL == "" || f.cfg.Alerts == nil {
		return 0, nil
	}
	tenants, err := f.cfg.Alerts.UplinkTenants(ctx)
	if err != nil {
		return 0, f.redisFailure(ctx, err)
	}
	target := f.cfg.AlertsURL + "?node=" + url.QueryEscape(f.cfg.NodeID)
	sent := 0
	for _, tenant := range tenants {
		limit := alertReportSize
		for {
			if err := context.Cause(ctx); err != nil {
				return sent, err
			}
			batch, err := f.cfg.Alerts.PeekUplink(ctx, tenant, limit)
			if err != nil {
				return sent, f.redisFailure(ctx, err)
			}
			if len(batch) == 0 {
				break
			}
			report := alert.EdgeReport{Alerts: make([]alert.Record, len(batch))}
			for i, u := range batch {
				report.Alerts[i] = u.Record
			}
			body, err := json.Marshal(report)
			if err != nil {
				return sent, fmt.Errorf("forward: encode alert report of tenant %s: %w", tenant, err)
			}
			if len(body) > alertReportBytes && len(batch) > 1 {
				limit = max(1, len(batch)/2)
				continue
			}
			id := fmt.Sprintf("%s-alerts-%s", f.cfg.NodeID, batch[0].Record.ID)
			r := f.post(ctx, target, "application/json", id, body)
			switch r.verdict {
			case delivered:
				sent += len(batch)
			case rejected:
				if len(batch) > 1 {
					limit = 1 // one at a time until the refused record stands alone
					continue
				}
				f.log.Error("forward: cloud refused an alert record, dropped it", "tenant", tenant,
					"alert", batch[0].Record.ID, "status", r.status, "body", clip.String(r.body, 500))
			case retry:
				if cause := context.Cause(ctx); cause != nil {
					return sent, cause
				}
				f.m.failure(failureReason(r))
				return sent, &RetryableError{Status: r.status, RetryAfter: r.retryAfter, Err: r.err}
			}
			if err := f.cfg.Alerts.AckUplink(context.WithoutCancel(ctx), tenant, batch); err != nil {
				return sent, f.redisFailure(ctx, err)
			}
		}
	}
	return sent, nil
}
