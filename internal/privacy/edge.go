package privacy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/geotrack/geotrack/internal/poll"
)

// EdgePurger is an edge node's Redis as the eraser needs it
// (redisstore.Privacy on the edge's client).
type EdgePurger interface {
	PurgeEdge(ctx context.Context, tenant string, e Erasure) (map[string]int, error)
	ErasureDone(ctx context.Context, receipt string) (bool, error)
	MarkErasureDone(ctx context.Context, receipt string) error
}

// ErasureList is the body of GET privacy?erasures=true.
type ErasureList struct {
	Tenant   string    `json:"tenant"`
	Erasures []Erasure `json:"erasures"`
}

var digestPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// DecodeErasureList reads and checks an erasure list from the cloud.
func DecodeErasureList(body []byte) (ErasureList, error) {
	var l ErasureList
	if err := json.Unmarshal(body, &l); err != nil {
		return ErasureList{}, fmt.Errorf("erasure list: %w", err)
	}
	if l.Tenant == "" {
		return ErasureList{}, fmt.Errorf("erasure list: tenant: missing")
	}
	for i, e := range l.Erasures {
		if !digestPattern.MatchString(e.DeviceSHA256) {
			return ErasureList{}, fmt.Errorf("erasure list: erasures[%d].device_sha256: not a SHA-256", i)
		}
		if !ValidReceiptID(e.Receipt) {
			return ErasureList{}, fmt.Errorf("erasure list: erasures[%d].receipt: not a receipt id", i)
		}
		if e.ErasedBefore.IsZero() {
			return ErasureList{}, fmt.Errorf("erasure list: erasures[%d].erased_before: missing", i)
		}
	}
	return l, nil
}

// EdgeEraser runs on an edge node: it pulls the tenant's erasure list
// from the cloud's privacy function (PRIVACY_URL, with the node's service
// token) every Interval, purges each erasure it has not purged yet from
// the node's Redis (hot store, filter state, raw log, outbox) and confirms
// it to the cloud (POST privacy?receipt=&edge=<node>), which shows it in
// the receipt as tier "edge:<node>".
type EdgeEraser struct {
	URL      string
	Token    string
	Node     string // EDGE_NODE_ID
	Interval time.Duration
	Client   *http.Client
	Purger   EdgePurger
}

// SyncOnce pulls the list and purges and confirms what is new; it returns
// how many erasures it confirmed.
func (e *EdgeEraser) SyncOnce(ctx context.Context) (int, error) {
	body, err := e.do(ctx, http.MethodGet, e.URL+"?erasures=true", nil)
	if err != nil {
		return 0, err
	}
	list, err := DecodeErasureList(body)
	if err != nil {
		return 0, err
	}
	confirmed := 0
	for _, er := range list.Erasures {
		done, err := e.Purger.ErasureDone(ctx, er.Receipt)
		if err != nil {
			return confirmed, err
		}
		if done {
			continue
		}
		removed, err := e.Purger.PurgeEdge(ctx, list.Tenant, er)
		if err != nil {
			return confirmed, fmt.Errorf("purge erasure %s: %w", er.Receipt, err)
		}
		t, _ := json.Marshal(Tier{State: StateDone, Removed: removed})
		q := url.Values{"receipt": {er.Receipt}, "edge": {e.Node}}
		if _, err := e.do(ctx, http.MethodPost, e.URL+"?"+q.Encode(), t); err != nil {
			return confirmed, fmt.Errorf("confirm erasure %s: %w", er.Receipt, err)
		}
		if err := e.Purger.MarkErasureDone(ctx, er.Receipt); err != nil {
			return confirmed, err
		}
		confirmed++
	}
	return confirmed, nil
}

func (e *EdgeEraser) do(ctx context.Context, method, target string, body []byte) ([]byte, error) {
	reply, err := poll.CloudRequest{Method: method, URL: target, Token: e.Token, Body: body, MaxBytes: 8 << 20, Client: e.Client}.Do(ctx)
	if err != nil {
		return nil, fmt.Errorf("privacy sync: %w", err)
	}
	return reply.Body, nil
}

// Run syncs every Interval until ctx ends.
func (e *EdgeEraser) Run(ctx context.Context, log *slog.Logger) {
	poll.Every(ctx, e.Interval, func(ctx context.Context) {
		n, err := e.SyncOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("privacy erasure sync failed; retrying", "err", err)
		case n > 0:
			log.Info("erasures purged and confirmed", "count", n)
		}
	})
}
