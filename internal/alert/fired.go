package alert

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/geotrack/geotrack/internal/eventtype"
	"github.com/geotrack/geotrack/internal/fix"
)

// TypeAlertFired is the event an alert emits and delivers.
const TypeAlertFired = eventtype.AlertFired

// Fired is one alert a rule fires for a device.
type Fired struct {
	ID       string
	Tenant   string
	Rule     Rule
	Device   string
	At       time.Time       // when it fired
	Cause    json.RawMessage // the causing event, structured mode; nil for silence
	LastFix  time.Time       // silence: the device's latest fix
	Cooldown time.Duration
}

// FiredData is the data of io.geotrack.alert.fired.
type FiredData struct {
	Rule        string          `json:"rule"`
	Name        string          `json:"name"`
	Kind        Kind            `json:"kind"`
	Device      string          `json:"device"`
	Event       json.RawMessage `json:"event,omitempty"`
	SilentSince string          `json:"silent_since,omitempty"`
}

// Emitted is a fired alert's io.geotrack.alert.fired event, encoded.
type Emitted struct {
	Source     string
	Data       []byte // its data (the event outbox entry's)
	CloudEvent []byte // structured mode: the webhook body and the event log entry
}

// Event encodes f's io.geotrack.alert.fired event. Its id is the alert's
// id, so every copy of one alert (webhook, sink, log) has the same id.
func (f Fired) Event(source string) (Emitted, error) {
	data := FiredData{Rule: f.Rule.ID, Name: f.Rule.Name, Kind: f.Rule.Kind(), Device: f.Device, Event: f.Cause}
	if !f.LastFix.IsZero() {
		data.SilentSince = fix.FormatTime(f.LastFix)
	}
	d, err := json.Marshal(data)
	if err != nil {
		return Emitted{}, fmt.Errorf("encode alert %s: %w", f.ID, err)
	}
	b, _, _ := eventtype.AppendStructured(make([]byte, 0, 256+len(d)), eventtype.Head{
		ID: f.ID, Source: source, Type: TypeAlertFired, Subject: f.Device, Time: fix.FormatTime(f.At), Tenant: f.Tenant,
	}, func(b []byte) []byte { return append(b, d...) })
	return Emitted{Source: source, Data: d, CloudEvent: b}, nil
}
