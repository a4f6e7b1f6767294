package edge

import (
	"encoding/json"
	"fmt"

	"github.com/geotrack/geotrack/internal/edgefilter"
)

// Settings resolves the filter settings of each device: defaults, then the
// fleet-wide JSON, then the device's own JSON.
type Settings struct {
	fleet   edgefilter.Settings
	devices map[string]edgefilter.Settings
}

// ParseSettings reads EDGE_FILTER_SETTINGS and EDGE_DEVICE_SETTINGS.
func ParseSettings(fleetJSON, devicesJSON string) (Settings, error) {
	s := Settings{fleet: edgefilter.DefaultSettings(), devices: map[string]edgefilter.Settings{}}
	if fleetJSON != "" {
		if err := json.Unmarshal([]byte(fleetJSON), &s.fleet); err != nil {
			return Settings{}, fmt.Errorf("EDGE_FILTER_SETTINGS: %w", err)
		}
	}
	if err := s.fleet.Validate(); err != nil {
		return Settings{}, fmt.Errorf("EDGE_FILTER_SETTINGS: %w", err)
	}
	if devicesJSON != "" {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(devicesJSON), &raw); err != nil {
			return Settings{}, fmt.Errorf("EDGE_DEVICE_SETTINGS: %w", err)
		}
		for dev, js := range raw {
			ds := s.fleet
			if err := json.Unmarshal(js, &ds); err != nil {
				return Settings{}, fmt.Errorf("EDGE_DEVICE_SETTINGS[%s]: %w", dev, err)
			}
			if err := ds.Validate(); err != nil {
				return Settings{}, fmt.Errorf("EDGE_DEVICE_SETTINGS[%s]: %w", dev, err)
			}
			s.devices[dev] = ds
		}
	}
	return s, nil
}

// For returns device's settings.
func (s Settings) For(device string) edgefilter.Settings {
	if ds, ok := s.devices[device]; ok {
		return ds
	}
	return s.fleet
}

// Fleet returns the settings of every device without its own.
func (s Settings) Fleet() edgefilter.Settings { return s.fleet }

// Local returns device's EDGE_DEVICE_SETTINGS entry, if it has one: the
// node's local override, which wins over synced preferences.
func (s Settings) Local(device string) (edgefilter.Settings, bool) {
	ds, ok := s.devices[device]
	return ds, ok
}
