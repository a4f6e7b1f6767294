package edge

import (
	"strings"
	"testing"

	"github.com/geotrack/geotrack/internal/edgefilter"
)

func TestParseSettings(t *testing.T) {
	def := edgefilter.DefaultSettings()
	with := func(base edgefilter.Settings, mod func(*edgefilter.Settings)) edgefilter.Settings {
		mod(&base)
		return base
	}
	fleet := with(def, func(s *edgefilter.Settings) { s.EpsilonM = 10; s.Accuracy = false; s.WindowPoints = 30 })

	cases := []struct {
		name    string
		fleet   string
		devices string
		want    map[string]edgefilter.Settings // device → settings For returns
	}{
		{"defaults", "", "", map[string]edgefilter.Settings{"any": def, "": def}},
		{"null JSON keeps defaults", "null", "null", map[string]edgefilter.Settings{"any": def}},
		{"empty objects keep defaults", "{}", "{}", map[string]edgefilter.Settings{"any": def}},
		{"fleet override", `{"epsilon_m":10,"accuracy":false,"window_points":30}`, "",
			map[string]edgefilter.Settings{"any": fleet}},
		{"device over fleet", `{"epsilon_m":10,"accuracy":false,"window_points":30}`,
			`{"truck-1":{"max_speed_ms":40,"window_points":90},"truck-2":{}}`,
			map[string]edgefilter.Settings{
				"truck-1": with(fleet, func(s *edgefilter.Settings) { s.MaxSpeedMS = 40; s.WindowPoints = 90 }),
				"truck-2": fleet,
				"truck-3": fleet,
			}},
		{"device over defaults", "", `{"bike":{"epsilon_m":2,"gap_s":60}}`,
			map[string]edgefilter.Settings{
				"bike":  with(def, func(s *edgefilter.Settings) { s.EpsilonM = 2; s.GapS = 60 }),
				"truck": def,
			}},
		{"device turns a filter off", "", `{"d":{"simplify":false,"epsilon_m":0,"window_s":0}}`,
			map[string]edgefilter.Settings{
				"d": with(def, func(s *edgefilter.Settings) { s.Simplify = false; s.EpsilonM = 0; s.WindowS = 0 }),
			}},
		{"device may re-enable what the fleet turned off", `{"accuracy":false}`, `{"d":{"accuracy":true}}`,
			map[string]edgefilter.Settings{
				"d":     def,
				"other": with(def, func(s *edgefilter.Settings) { s.Accuracy = false }),
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSettings(tc.fleet, tc.devices)
			if err != nil {
				t.Fatalf("ParseSettings: %v", err)
			}
			for dev, want := range tc.want {
				if got := s.For(dev); got != want {
					t.Errorf("For(%q) = %+v, want %+v", dev, got, want)
				}
			}
		})
	}
}

func TestParseSettingsErrors(t *testing.T) {
	cases := []struct {
		name    string
		fleet   string
		devices string
		parts   []string // substrings of the error
	}{
		{"fleet invalid JSON", `{"epsilon_m":`, "", []string{"EDGE_FILTER_SETTINGS: "}},
		{"fleet wrong type", `{"epsilon_m":"5"}`, "", []string{"EDGE_FILTER_SETTINGS: ", "epsilon_m"}},
		{"fleet not an object", `[1]`, "", []string{"EDGE_FILTER_SETTINGS: "}},
		{"fleet negative epsilon", `{"epsilon_m":-1}`, "", []string{"EDGE_FILTER_SETTINGS: ", "epsilon_m"}},
		{"fleet zero gap", `{"gap_s":0}`, "", []string{"EDGE_FILTER_SETTINGS: ", "gap_s"}},
		{"fleet window_points too small", `{"window_points":1}`, "", []string{"EDGE_FILTER_SETTINGS: ", "window_points"}},
		{"fleet zero epsilon with simplify", `{"epsilon_m":0}`, "", []string{"EDGE_FILTER_SETTINGS: ", "epsilon_m"}},
		{"fleet error wins over devices", `{"max_speed_ms":-3}`, `{"d":{}}`, []string{"EDGE_FILTER_SETTINGS: ", "max_speed_ms"}},
		{"devices invalid JSON", "", `{"d":`, []string{"EDGE_DEVICE_SETTINGS: "}},
		{"devices not an object", "", `["d"]`, []string{"EDGE_DEVICE_SETTINGS: "}},
		{"device entry not an object", "", `{"d":5}`, []string{"EDGE_DEVICE_SETTINGS[d]: "}},
		{"device wrong type", "", `{"truck-1":{"window_points":1.5}}`, []string{"EDGE_DEVICE_SETTINGS[truck-1]: ", "window_points"}},
		{"device negative epsilon", `{"epsilon_m":10}`, `{"ok":{},"truck-9":{"epsilon_m":-0.5}}`, []string{"EDGE_DEVICE_SETTINGS[truck-9]: ", "epsilon_m"}},
		{"device window_points too large", "", `{"d":{"window_points":100001}}`, []string{"EDGE_DEVICE_SETTINGS[d]: ", "window_points"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSettings(tc.fleet, tc.devices)
			if err == nil {
				t.Fatalf("no error: %+v", s)
			}
			for _, p := range tc.parts {
				if !strings.Contains(err.Error(), p) {
					t.Fatalf("error %q does not contain %q", err, p)
				}
			}
			if !strings.HasPrefix(err.Error(), "EDGE_") {
				t.Fatalf("error %q does not start with the env var", err)
			}
		})
	}
}
