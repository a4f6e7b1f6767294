package owntracks

import (
	"strings"

	"github.com/geotrack/geotrack/internal/fix"
)

// DeviceID chooses the geotrack device id of an OwnTracks report:
//
//  1. "<user>:<device>" when both come from X-Limit-U/X-Limit-D (or ?u=&d=),
//     the same pair the OwnTracks Recorder keys on;
//  2. else "<user>:<device>" from a payload topic "owntracks/<user>/<device>"
//     (sent in HTTP mode by iOS and Android >= 2.4);
//  3. else the two-letter tid.
//
// Each part is sanitised, not rejected: the apps default the device name to
// the phone's name ("Jane's iPhone"), so rejecting would fail out of the box.
// Every byte outside [A-Za-z0-9._-] becomes '_' (':' too, so the separator
// stays unambiguous) and the result is cut to 128 bytes. Distinct names can
// collide only if they differ solely in such characters. An error naming
// "device" is returned only when no part is known at all.
func DeviceID(user, device, topic, tid string) (string, error) {
	var id string
	switch {
	case user != "" && device != "":
		id = sanitise(user) + ":" + sanitise(device)
	case topicParts(topic) != nil:
		p := topicParts(topic)
		id = sanitise(p[0]) + ":" + sanitise(p[1])
	case tid != "":
		id = sanitise(tid)
	default:
		return "", &fix.FieldError{Field: "device", Msg: "unknown: send X-Limit-U and X-Limit-D headers (or ?u=&d=), a topic, or a tid"}
	}
	if len(id) > 128 {
		id = id[:128]
	}
	return id, nil
}

// topicParts returns user and device of "owntracks/<user>/<device>[/...]".
func topicParts(topic string) []string {
	parts := strings.Split(topic, "/")
	if len(parts) < 3 || parts[1] == "" || parts[2] == "" {
		return nil
	}
	return parts[1:3]
}

func sanitise(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}
