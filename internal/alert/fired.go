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

// firedEvent is io.geotrack.alert.fired in structured mode.
type firedEvent struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject"`
	Time            string    `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Tenant          string    `json:"tenant"`
	Data            FiredData `json:"data"`
}

// CloudEvent is f as a structured-mode CloudEvent JSON object: the body
// delivered to the webhook and the entry of the event log. Its id is the
// alert's id, so every copy of one alert has the same id.
func (f Fired) CloudEvent(source string) ([]byte, error) {
	data := FiredData{Rule: f.Rule.ID, Name: f.Rule.Name, Kind: f.Rule.Kind(), Device: f.Device, Event: f.Cause}
	if !f.LastFix.IsZero() {
		data.SilentSince = fix.FormatTime(f.LastFix)
	}
	b, err := json.Marshal(firedEvent{
		SpecVersion: "1.0", ID: f.ID, Source: source, Type: TypeAlertFired, Subject: f.Device,
		Time: fix.FormatTime(f.At), DataContentType: "application/json", Tenant: f.Tenant, Data: data,
	})
	if err != nil {
		return nil, fmt.Errorf("encode alert %s: %w", f.ID, err)
	}
	return b, nil
}
