package eventoutbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/redis/go-redis/v9"

	"github.com/geotrack/geotrack/internal/auth"
	"github.com/geotrack/geotrack/internal/backoff"
	"github.com/geotrack/geotrack/internal/events"
	"github.com/geotrack/geotrack/internal/forward"
	"github.com/geotrack/geotrack/internal/metrics"
	"github.com/geotrack/geotrack/internal/outbox"
	"github.com/geotrack/geotrack/internal/redisstore"
)

// Defaults for Config.
const (
	DefaultBatchSize = 100
	// DefaultDerivedBatchSize is Config.DerivedBatchSize's default.
	DefaultDerivedBatchSize = 1000
	DefaultInterval         = time.Second
	DefaultSendTimeout      = 5 * time.Second
	DefaultMinBackoff       = 200 * time.Millisecond
	DefaultMaxBackoff       = 30 * time.Second
	DefaultLockTTL          = 5 * time.Second
	DefaultParallel         = 16
	// DefaultParallelShared is how many location events of several devices
	// go at once (Config.ParallelShared).
	DefaultParallelShared = 2
	DefaultWakeDelay      = 5 * time.Millisecond
)

// detachedTimeout bounds the bookkeeping that must finish even when the
// caller's context ended: acking what the sink has, releasing a lock.
const detachedTimeout = 5 * time.Second

// Config tunes a Relay; zero values take the defaults.
type Config struct {
	KeyPrefix string // the hot store's key prefix (default "gt")
	BatchSize int    // entries read from a location outbox at a time (default 100)
	// DerivedBatchSize is how many entries are read from an outbox of
	// derived events at a time (default 1000): each is one device's small
	// event, where a location event may announce a thousand fixes, and
	// larger reads cost fewer round trips (in batch mode, one request per
	// EVENT_SINK_BATCH events of a read).
	DerivedBatchSize int
	Interval         time.Duration // how often outboxes are polled without a wake-up (default 1s)
	SendTimeout      time.Duration // bound of one delivery attempt (default 5s)
	MinBackoff       time.Duration // first wait after a failed pass (default 200ms)
	MaxBackoff       time.Duration // longest wait between failed passes (default 30s)
	// LockTTL is the per-tenant lock's lifetime, renewed every third of it
	// while sending; it is also how long a crashed replica's tenants wait
	// before another replica takes them over (default 5s).
	LockTTL time.Duration
	// Parallel is how many devices' events are delivered at once; one
	// device's events always go one after the other, in order (default 16).
	Parallel int
	// ParallelShared is how many location events of several devices (a
	// batch of fixes, no subject; their data names the devices) are sent at
	// once, each in a request of its own, when no two of them share a
	// device (default 2). Such an event is a whole request's worth of
	// receiver work (up to the sender's batch of fixes), so it is bounded
	// apart from Parallel: many in flight together would each take longer
	// than SendTimeout on the receiver, time out, and be sent again (see
	// BENCHMARKS.md, "Relay batch mode"). 1 keeps them one at a time.
	ParallelShared int
	// WakeDelay is the least time between passes that deliver without
	// failure, so that a burst of wake-ups shares one pass (default 5ms;
	// negative: none).
	WakeDelay time.Duration
	// MaxBatchesPerTenant bounds one tenant's share of a pass, so a tenant
	// with a large backlog does not starve others (default 10).
	MaxBatchesPerTenant int
	// Signer signs every event sent (auth.EventSigner; nil: unsigned).
	Signer  *auth.EventSigner
	Logger  *slog.Logger      // default slog.Default()
	Metrics *metrics.Registry // nil keeps the metrics private
}

// Relay delivers every tenant's event outbox to a sink. Each emitting
// process runs one (Run); replicas share the work through a per-tenant Redis
// lock, so one tenant's outbox is sent by one replica at a time, in order.
type Relay struct {
	client   redis.UniversalClient
	sink     events.Sink
	cfg      Config
	log      *slog.Logger
	m        *relayMetrics
	outboxes []*drainer // one per outbox kind, drained apart
}

// outboxKind is one of each tenant's outboxes: its name (metrics, logs),
// its stream's key and how many entries to read at a time.
type outboxKind struct {
	name      string
	key       func(prefix, tenant string) string
	batchSize func(Config) int
}

// outboxKinds are each tenant's outboxes, each drained on its own (its own
// lock, wake-ups, passes and backoff): location events, queued by the hot
// store's save, and derived events (geofence transitions), queued once a
// location event was delivered. Delivering a location event can take a
// receiver's whole evaluation of a batch of fixes; in one stream the derived
// events waited behind every location event queued before them (BENCHMARKS.md,
// h28). Each device's events keep their order within each outbox, and a
// derived event still follows the location event that caused it.
var outboxKinds = []outboxKind{
	{name: "location", key: redisstore.EventOutboxKey, batchSize: func(c Config) int { return c.BatchSize }},
	{name: "derived", key: redisstore.DerivedOutboxKey, batchSize: func(c Config) int { return c.DerivedBatchSize }},
}

// drainer drains one kind of outbox of every tenant.
type drainer struct {
	r    *Relay
	kind outboxKind
	wake chan struct{}

	mu    sync.Mutex
	woken map[string]struct{} // tenants woken since the last pass
}

// New returns a relay from the outboxes on client to sink.
func New(client redis.UniversalClient, sink events.Sink, cfg Config) *Relay {
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = redisstore.DefaultKeyPrefix
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.DerivedBatchSize <= 0 {
		cfg.DerivedBatchSize = DefaultDerivedBatchSize
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.LockTTL <= 0 {
		cfg.LockTTL = DefaultLockTTL
	}
	if cfg.WakeDelay == 0 {
		cfg.WakeDelay = DefaultWakeDelay
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = DefaultParallel
	}
	if cfg.ParallelShared <= 0 {
		cfg.ParallelShared = DefaultParallelShared
	}
	if cfg.MaxBatchesPerTenant <= 0 {
		cfg.MaxBatchesPerTenant = 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Relay{client: client, sink: sink, cfg: cfg, log: cfg.Logger, m: newRelayMetrics(cfg.Metrics)}
	for _, kind := range outboxKinds {
		r.outboxes = append(r.outboxes, &drainer{r: r, kind: kind, wake: make(chan struct{}, 1), woken: map[string]struct{}{}})
	}
	return r
}

// Wake asks for a pass over tenant's outboxes now (an emitter queued events
// for it); it never blocks.
func (r *Relay) Wake(tenant string) {
	for _, d := range r.outboxes {
		d.markWoken(tenant)
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// markWoken puts tenant in the next pass over woken tenants.
func (d *drainer) markWoken(tenant string) {
	d.mu.Lock()
	d.woken[tenant] = struct{}{}
	d.mu.Unlock()
}

// takeWoken returns and forgets the tenants woken since the last call.
func (d *drainer) takeWoken() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.woken))
	for t := range d.woken {
		out = append(out, t)
	}
	clear(d.woken)
	return out
}

// Result of one pass.
type Result struct {
	Delivered    int   // events the sink acknowledged
	DeadLettered int   // entries moved to a dead-letter stream (undecodable, or refused by the sink)
	Depth        int64 // events waiting in all outboxes before the pass
	More         bool  // a tenant had more than its share of the pass
}

// RunOnce delivers what every outbox holds, up to MaxBatchesPerTenant
// batches per tenant and outbox, the kinds of outboxes at once. Each kind
// stops at its first failure (the sink or Redis is down: other tenants'
// events would fail the same way); the failures are returned. Tenants whose
// outbox another replica is sending are skipped.
func (r *Relay) RunOnce(ctx context.Context) (Result, error) {
	tenants, err := r.client.SMembers(ctx, redisstore.EmittersKey(r.cfg.KeyPrefix)).Result()
	if err != nil {
		r.m.failed.With("redis").Inc()
		return Result{}, fmt.Errorf("event relay: list outboxes: %w", err)
	}
	results := make([]Result, len(r.outboxes))
	errs := make([]error, len(r.outboxes))
	var wg sync.WaitGroup
	for i, d := range r.outboxes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = d.pass(ctx, slices.Clone(tenants), true)
		}()
	}
	wg.Wait()
	var res Result
	for _, t := range results {
		res.Delivered += t.Delivered
		res.DeadLettered += t.DeadLettered
		res.Depth += t.Depth
		res.More = res.More || t.More
	}
	return res, errors.Join(errs...)
}

// runOnce is RunOnce for this kind of outbox alone.
func (d *drainer) runOnce(ctx context.Context) (Result, error) {
	r := d.r
	tenants, err := r.client.SMembers(ctx, redisstore.EmittersKey(r.cfg.KeyPrefix)).Result()
	if err != nil {
		r.m.failed.With("redis").Inc()
		return Result{}, fmt.Errorf("event relay: list outboxes: %w", err)
	}
	return d.pass(ctx, tenants, true)
}

// pass delivers the outboxes of tenants (full: every tenant).
func (d *drainer) pass(ctx context.Context, tenants []string, full bool) (Result, error) {
	r := d.r
	var res Result
	depths, err := d.readDepths(ctx, tenants, full)
	if err != nil {
		r.m.failed.With("redis").Inc()
		return res, err
	}
	sort.Strings(tenants)
	for _, tenant := range tenants {
		if depths[tenant] == 0 {
			continue
		}
		res.Depth += depths[tenant]
		t, err := d.drainTenant(ctx, tenant)
		res.Delivered += t.Delivered
		res.DeadLettered += t.DeadLettered
		res.More = res.More || t.More
		if t.More {
			// Its next share goes in the very next pass, which run makes at
			// once but over the woken tenants only: without this the rest of
			// a backlog waited for the next full pass (Interval), and a
			// tenant drained at MaxBatchesPerTenant reads per
			// Interval (BENCHMARKS.md, h28).
			d.markWoken(tenant)
		}
		r.m.drained(d.kind.name, tenant, t.Delivered+t.DeadLettered)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// Run makes passes over each kind of outbox until ctx ends: on a wake-up or
// every Interval, and after a failure with exponential backoff (full jitter)
// during which wake-ups are ignored, so busy ingest cannot hammer a dead
// sink. The kinds run side by side, each with its own passes and backoff.
func (r *Relay) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, d := range r.outboxes {
		wg.Add(1)
		go func() { defer wg.Done(); d.run(ctx) }()
	}
	wg.Wait()
}

func (d *drainer) run(ctx context.Context) {
	r := d.r
	failures := 0
	var lastFull time.Time
	for {
		select { // this pass covers whatever woke us
		case <-d.wake:
		default:
		}
		// A wake-up only concerns the woken tenants; every tenant is looked
		// at each Interval (others' replicas may have crashed with events
		// queued) and after a failure.
		var res Result
		var err error
		woken := d.takeWoken()
		if failures > 0 || time.Since(lastFull) >= r.cfg.Interval {
			lastFull = time.Now()
			res, err = d.runOnce(ctx)
		} else {
			res, err = d.pass(ctx, woken, false)
		}
		if err == nil && !res.More && r.cfg.WakeDelay > 0 {
			// Let a burst of requests queue before the next pass, so busy
			// ingest costs one pass per burst instead of one per request.
			t := time.NewTimer(r.cfg.WakeDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		wait, wakeable := r.cfg.Interval, true
		switch {
		case err != nil:
			failures++
			wait, wakeable = r.backoff(failures), false
			r.log.Warn("event relay: delivery failed, backing off", "outbox", d.kind.name, "err", err, "failures", failures,
				"wait", wait, "delivered", res.Delivered, "depth", res.Depth)
		case res.More:
			failures, wait = 0, 0
		default:
			failures = 0
		}
		if wait == 0 {
			continue
		}
		var wakeCh <-chan struct{}
		if wakeable {
			wakeCh = d.wake
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-wakeCh:
			t.Stop()
		}
	}
}

// backoff is the wait after the n-th consecutive failed pass.
func (r *Relay) backoff(n int) time.Duration {
	return backoff.Policy{Min: r.cfg.MinBackoff, Max: r.cfg.MaxBackoff}.Delay(n)
}

// drainTenant sends one tenant's outbox of this kind under its lock.
func (d *drainer) drainTenant(ctx context.Context, tenant string) (Result, error) {
	r := d.r
	var res Result
	key := d.kind.key(r.cfg.KeyPrefix, tenant)
	lease, err := forward.NewLock(r.client, key+":lock", r.cfg.LockTTL).Acquire(ctx)
	if errors.Is(err, forward.ErrLocked) {
		return res, nil // another replica is on it
	}
	if err != nil {
		r.m.failed.With("redis").Inc()
		return res, fmt.Errorf("event relay: %w", err)
	}
	ctx, lost := context.WithCancelCause(ctx)
	stopRenew := r.keepAlive(ctx, lease, lost)
	defer func() {
		stopRenew()
		lost(nil)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedTimeout)
		defer cancel()
		if err := lease.Release(rctx); err != nil {
			r.log.Warn("event relay: release lock", "err", err) // it expires after LockTTL anyway
		}
	}()
	stream := outbox.NewStream(r.client, key)
	batchSize := d.kind.batchSize(r.cfg)
	for batch := 0; batch < r.cfg.MaxBatchesPerTenant; batch++ {
		msgs, err := stream.Head(ctx, "", batchSize)
		if err != nil {
			r.m.failed.With("redis").Inc()
			return res, fmt.Errorf("event relay: %w", err)
		}
		if len(msgs) == 0 {
			return res, nil
		}
		out := r.deliver(ctx, tenant, msgs, func(ids []string) error {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedTimeout)
			defer cancel()
			return stream.Ack(actx, ids...)
		})
		dead, derr := r.deadLetter(ctx, key, msgs, out.dead)
		res.DeadLettered += dead
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedTimeout)
		aerr := stream.Ack(actx, out.delivered...)
		cancel()
		if aerr != nil {
			// Delivered but still queued: resent later, dropped by id.
			r.m.failed.With("redis").Inc()
			return res, fmt.Errorf("event relay: %w", aerr)
		}
		res.Delivered += len(out.acked) + len(out.delivered)
		r.m.delivered.Add(float64(len(out.acked) + len(out.delivered)))
		switch {
		case out.err != nil:
			return res, out.err
		case derr != nil:
			r.m.failed.With("redis").Inc()
			return res, derr
		case len(msgs) < batchSize:
			return res, nil
		case context.Cause(ctx) != nil:
			return res, fmt.Errorf("event relay: tenant %q: %w", tenant, context.Cause(ctx))
		}
	}
	res.More = true
	return res, nil
}

// keepAlive renews lease every LockTTL/3 until stopped; when the lease is
// lost (or not renewed for a whole TTL) it cancels ctx with the reason, so
// the drain stops before another replica starts on the same outbox.
func (r *Relay) keepAlive(ctx context.Context, lease *forward.Lease, lost context.CancelCauseFunc) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(max(r.cfg.LockTTL/3, time.Millisecond))
		defer tick.Stop()
		lastOK := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			err := lease.Renew(ctx)
			switch {
			case err == nil:
				lastOK = time.Now()
			case errors.Is(err, forward.ErrLockLost), time.Since(lastOK) >= r.cfg.LockTTL:
				lost(fmt.Errorf("%w: %v", forward.ErrLockLost, err))
				return
			}
		}
	}()
	return func() { cancel(); <-done }
}

// outcome of delivering one batch: stream ids delivered and already acked,
// delivered and still to ack, entries to dead-letter (id -> reason), and the
// failure that stopped it.
type outcome struct {
	acked     []string
	delivered []string
	dead      map[string]deadReason
	err       error
}

// ackEvery is how often a batch's deliveries to an unbuffered (HTTP) sink
// are acked while the batch is still being sent: with a slow sink a batch
// takes long, and a crash should repeat seconds of it, not all of it.
const ackEvery = 250 * time.Millisecond

// item is one outbox entry to send: its stream id and event.
type item struct {
	id string
	e  event.Event
}

// laneItem is an item with the lane it belongs to (its subject; "" for a
// barrier).
type laneItem struct {
	lane string
	it   item
}

type deadReason struct {
	reason string
	status int
}

// deliver sends a batch in order per device: consecutive events with a
// subject (one device) go in parallel lanes, one lane per device; a location
// event of several devices goes in a lane of its own, ParallelShared at
// most, as long as no two lanes of the segment send to the same device; any
// other event without a subject is a barrier sent on its own. A lane stops at
// its first failure, and nothing after a failure's segment is sent, so a
// device's later events never overtake an earlier one.
//
// With a sink in batch mode (events.BatchSender) the devices of a segment
// are dealt into one lane per MaxBatch of its events (Parallel at most),
// each posting its events in stream order as requests of up to MaxBatch
// events, so a segment smaller than MaxBatch is one request holding many
// devices' events; consecutive barriers go together, in order, in one lane:
// each device's events still arrive in order, in far fewer requests.
func (r *Relay) deliver(ctx context.Context, tenant string, msgs []redis.XMessage, ack func(ids []string) error) outcome {
	out := outcome{dead: map[string]deadReason{}}
	var mu sync.Mutex // guards sent, out
	var sent []string // sent, not yet acked (for a buffered sink: not yet known to be received)
	flusher, buffered := r.sink.(events.Flusher)
	batcher, _ := r.sink.(events.BatchSender)
	batchMax := 1
	if batcher != nil {
		batchMax = max(1, batcher.MaxBatch())
	}
	stopAcks := func() {}
	if !buffered {
		stopAcks = ackWhileSending(&mu, &sent, &out.acked, ack)
	}
	// record notes one event's outcome; it reports whether its lane goes on.
	ok := true
	record := func(it item, err error) bool {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			sent = append(sent, it.id)
		case isRejected(err):
			status, _ := events.Rejected(err)
			out.dead[it.id] = deadReason{reason: "refused by the event sink: " + err.Error(), status: status}
		default:
			ok = false
			if out.err == nil {
				out.err = fmt.Errorf("event relay: send %s %s of tenant %q: %w", it.e.Type(), it.e.ID(), tenant, err)
			}
			return false
		}
		return true
	}
	sendLane := func(lane []item) {
		for len(lane) > 0 {
			if batchMax <= 1 || len(lane) == 1 {
				if !record(lane[0], r.send(ctx, lane[0].e)) {
					return
				}
				lane = lane[1:]
				continue
			}
			chunk := lane[:min(batchMax, len(lane))]
			lane = lane[len(chunk):]
			err := r.sendBatch(ctx, batcher, chunk)
			switch {
			case err == nil:
				for _, it := range chunk {
					record(it, nil)
				}
			case isRejected(err):
				// The request was refused as a whole: one by one, so that only
				// the events the sink refuses are dead-lettered.
				for _, it := range chunk {
					if !record(it, r.send(ctx, it.e)) {
						return
					}
				}
			default:
				record(chunk[0], err) // nothing of the chunk is known to have arrived
				return
			}
		}
	}
	segment := map[string][]item{}
	busy := map[string]string{} // each device of the segment -> the lane sending its events
	shared := 0                 // lanes of the segment holding a location event of several devices
	var order []string
	var inOrder []laneItem // the segment's events outside shared lanes, in stream order
	runSegment := func() bool {
		if len(order) == 0 {
			return true
		}
		lanes := make([][]item, 0, len(order))
		var single []string // lanes of one device each
		for _, key := range order {
			if strings.HasPrefix(key, sharedLane) {
				lanes = append(lanes, segment[key]) // one event, one request
			} else {
				single = append(single, key)
			}
		}
		if batchMax > 1 && len(single) > 0 {
			// As few requests as the batch size allows: one lane per
			// MaxBatch events (Parallel at most), each device's events in
			// one lane in stream order. Dealing every device into Parallel
			// lanes sent a read of 100 events as 16 requests of ~6
			// (BENCHMARKS.md, h28).
			count := min(r.cfg.Parallel, len(single), (len(inOrder)+batchMax-1)/batchMax)
			laneOf := make(map[string]int, len(single))
			for i, key := range single {
				laneOf[key] = i % count
			}
			dealt := make([][]item, count)
			for _, k := range inOrder {
				dealt[laneOf[k.lane]] = append(dealt[laneOf[k.lane]], k.it)
			}
			lanes = append(lanes, dealt...)
		} else {
			for _, subject := range single {
				lanes = append(lanes, segment[subject])
			}
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, r.cfg.Parallel)
		for _, lane := range lanes {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				sendLane(lane)
			}()
		}
		wg.Wait()
		clear(segment)
		clear(busy)
		shared = 0
		order = order[:0]
		inOrder = inOrder[:0]
		mu.Lock()
		defer mu.Unlock()
		return ok
	}
	add := func(lane string, devices []string, id string, e event.Event) {
		if _, ok := segment[lane]; !ok {
			order = append(order, lane)
			if strings.HasPrefix(lane, sharedLane) {
				shared++
			}
		}
		segment[lane] = append(segment[lane], item{id, e})
		if !strings.HasPrefix(lane, sharedLane) {
			inOrder = append(inOrder, laneItem{lane, item{id, e}})
		}
		for _, d := range devices {
			busy[d] = lane
		}
	}
	// fits reports whether an event for devices, sent in lane, may join the
	// segment: no other lane of it sends to any of those devices.
	fits := func(lane string, devices []string) bool {
		for _, d := range devices {
			if l, ok := busy[d]; ok && l != lane {
				return false
			}
		}
		return true
	}
	for _, m := range msgs {
		e, err := decode(tenant, m, r.cfg.Signer)
		if err != nil {
			out.dead[m.ID] = deadReason{reason: err.Error()}
			r.log.Error("event relay: undecodable outbox entry", "tenant", tenant, "id", m.ID, "err", err)
			continue
		}
		_, barriers := segment[""] // the segment is a run of barriers
		if e.Subject() == "" && r.cfg.ParallelShared > 1 {
			// A location event of several devices goes in a lane of its own
			// beside events of other devices, ParallelShared at most.
			if devices := devicesOf(e); devices != nil {
				lane := sharedLane + m.ID
				if (barriers || shared >= r.cfg.ParallelShared || !fits(lane, devices)) && !runSegment() {
					break
				}
				add(lane, devices, m.ID, e)
				continue
			}
		}
		if e.Subject() == "" {
			if !(batchMax > 1 && barriers) && !runSegment() {
				break
			}
			add("", nil, m.ID, e)
			if batchMax <= 1 && !runSegment() {
				break
			}
			continue
		}
		devices := []string{e.Subject()}
		if (barriers || !fits(e.Subject(), devices)) && !runSegment() {
			break
		}
		add(e.Subject(), devices, m.ID, e)
	}
	runSegment()
	stopAcks() // before sent is read below
	if out.err != nil {
		r.m.failed.With("sink").Inc()
	}
	if buffered && len(sent) > 0 {
		fctx, cancel := context.WithTimeout(ctx, r.cfg.SendTimeout)
		err := flusher.Flush(fctx)
		cancel()
		if err != nil {
			if out.err == nil {
				r.m.failed.With("sink").Inc()
				out.err = fmt.Errorf("event relay: tenant %q: %w", tenant, err)
			}
			return out // nothing is known to have arrived: all stays queued
		}
	}
	out.delivered = sent
	return out
}

// ackWhileSending acks, every ackEvery until stopped, what was sent so far:
// it moves ids from sent to acked (both guarded by mu). A failed ack leaves
// them in sent for the final ack.
func ackWhileSending(mu *sync.Mutex, sent, acked *[]string, ack func(ids []string) error) (stop func()) {
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(ackEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			mu.Lock()
			ids := *sent
			*sent = nil
			mu.Unlock()
			if len(ids) == 0 {
				continue
			}
			err := ack(ids)
			mu.Lock()
			if err != nil {
				*sent = append(*sent, ids...)
			} else {
				*acked = append(*acked, ids...)
			}
			mu.Unlock()
		}
	}()
	return func() { close(done); <-stopped }
}

func isRejected(err error) bool {
	_, permanent := events.Rejected(err)
	return permanent
}

func (r *Relay) send(ctx context.Context, e event.Event) error {
	// One attempt: the relay's backoff does the retrying.
	sctx, cancel := context.WithTimeout(events.SendOnce(ctx), r.cfg.SendTimeout)
	defer cancel()
	return r.sink.Send(sctx, e)
}

// sharedLane prefixes the lane of a location event of several devices (the
// rest is its outbox id); subjects never start with a NUL.
const sharedLane = "\x00"

// devicesOf returns the devices a location event without a subject covers
// (its data is the array of fixes it announces), or nil when that is not
// known: then the event stays a barrier.
func devicesOf(e event.Event) []string {
	if e.Type() != events.TypeLocationUpdated {
		return nil
	}
	var fixes []struct {
		Device string `json:"device"`
	}
	if err := json.Unmarshal(e.Data(), &fixes); err != nil || len(fixes) == 0 {
		return nil
	}
	devices := make([]string, 0, len(fixes))
	seen := make(map[string]bool, len(fixes))
	for _, f := range fixes {
		if f.Device == "" {
			return nil
		}
		if !seen[f.Device] {
			seen[f.Device] = true
			devices = append(devices, f.Device)
		}
	}
	return devices
}

// sendBatch makes one batch-mode attempt for chunk.
func (r *Relay) sendBatch(ctx context.Context, b events.BatchSender, chunk []item) error {
	es := make([]event.Event, len(chunk))
	for i, it := range chunk {
		es[i] = it.e
	}
	sctx, cancel := context.WithTimeout(ctx, r.cfg.SendTimeout)
	defer cancel()
	return b.SendBatch(sctx, es)
}

// deadLetter moves entries to <outbox>:dead with why, atomically per entry
// (MULTI on one slot): data the sink refused or that cannot be decoded is
// kept for an operator instead of blocking the outbox.
func (r *Relay) deadLetter(ctx context.Context, key string, msgs []redis.XMessage, dead map[string]deadReason) (int, error) {
	if len(dead) == 0 {
		return 0, nil
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedTimeout)
	defer cancel()
	_, err := r.client.TxPipelined(dctx, func(pipe redis.Pipeliner) error {
		for _, m := range msgs {
			d, ok := dead[m.ID]
			if !ok {
				continue
			}
			values := make([]any, 0, 2*len(m.Values)+6)
			for k, v := range m.Values {
				values = append(values, k, v)
			}
			values = append(values, "dl_id", m.ID, "dl_reason", d.reason, "dl_status", strconv.Itoa(d.status))
			pipe.XAdd(dctx, &redis.XAddArgs{Stream: key + ":dead", Values: values})
			pipe.XDel(dctx, key, m.ID)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("event relay: dead-letter %d entries of %s: %w", len(dead), key, err)
	}
	r.m.dead.Add(float64(len(dead)))
	for id, d := range dead {
		r.log.Error("event relay: entry dead-lettered", "key", key, "id", id, "reason", d.reason, "status", d.status)
	}
	return len(dead), nil
}
