package preferences

import (
	"context"
	"fmt"
	"math"
)

// AppConfig is what an app is told to use (OwnTracks setConfiguration).
type AppConfig struct {
	IntervalS     int // locatorInterval
	DisplacementM int // locatorDisplacement
	// Monitoring is OwnTracks' mode: -1 quiet (tracking paused), 1
	// significant changes, 2 move mode (an interval is set).
	Monitoring int
}

// AppConfigOf is the app configuration e asks for; ok is false when the
// preferences say nothing an app should change.
func AppConfigOf(e Effective) (AppConfig, bool) {
	if !e.ReportSet && !e.Paused {
		return AppConfig{}, false
	}
	c := AppConfig{IntervalS: int(math.Round(e.IntervalS)), DisplacementM: int(math.Round(e.DisplacementM)), Monitoring: 1}
	if c.IntervalS > 0 {
		c.Monitoring = 2
	}
	if e.Paused {
		c.Monitoring = -1
	}
	return c, true
}

func (c AppConfig) digest() string {
	return fmt.Sprintf("%d/%d/%d", c.IntervalS, c.DisplacementM, c.Monitoring)
}

// SentStore remembers, per device, the app configuration last sent.
type SentStore interface {
	// SwapSent records digest as device's last sent configuration and
	// returns the one recorded before ("" if none).
	SwapSent(ctx context.Context, tenant, device, digest string) (string, error)
}

// Source gives a device's effective preferences: the cloud's Service, or
// an edge node's synced copy (Syncer).
type Source interface {
	Effective(ctx context.Context, tenant, device string) (Effective, error)
}

// Reconfigurer tells which devices must be sent a new app configuration.
type Reconfigurer struct {
	prefs Source
	sent  SentStore
}

// NewReconfigurer returns a Reconfigurer.
func NewReconfigurer(prefs Source, sent SentStore) *Reconfigurer {
	return &Reconfigurer{prefs: prefs, sent: sent}
}

// Reconfigure returns device's app configuration when it changed since it
// was last sent (and records it as sent); ok false: nothing to send.
func (r *Reconfigurer) Reconfigure(ctx context.Context, tenant, device string) (AppConfig, bool, error) {
	e, err := r.prefs.Effective(ctx, tenant, device)
	if err != nil {
		return AppConfig{}, false, err
	}
	c, ok := AppConfigOf(e)
	digest := ""
	if ok {
		digest = c.digest()
	}
	prev, err := r.sent.SwapSent(ctx, tenant, device, digest)
	if err != nil {
		return AppConfig{}, false, fmt.Errorf("app configuration sent: %w", err)
	}
	return c, ok && prev != digest, nil
}
