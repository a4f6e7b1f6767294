package auth

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Key is one HS256 signing key. ID is the JWT header's kid; "" only for
// the single plain secret of a deployment that never rotated.
type Key struct {
	ID     string `json:"kid"`
	Secret string `json:"secret"`
}

// KeySet is the HS256 keys a deployment accepts, newest first: the first
// signs, all verify. Rotation: put the new key first, keep the old one
// listed for the lifetime of the tokens it signed, then remove it.
type KeySet []Key

// maxKeys bounds the list: a token without kid is tried against each key.
const maxKeys = 16

// minKeyBytes is the shortest secret accepted (as for the plain secret).
const minKeyBytes = 16

var keyID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ParseKeys reads the jwt-secret secret. Three forms:
//
//   - a plain secret (one line): one key without kid, as before rotation;
//   - a JSON array, newest first: [{"kid":"2026-11","secret":"..."},{"kid":"2026-05","secret":"..."}];
//   - several lines "kid:secret", newest first; blank lines and lines
//     starting with # are skipped.
//
// Every secret has at least 16 bytes and every listed key a distinct kid.
// Errors name the entry at fault and never quote a secret.
func ParseKeys(raw string) (KeySet, error) {
	text := strings.TrimSpace(raw)
	switch {
	case text == "":
		return nil, nil
	case strings.HasPrefix(text, "["):
		var keys KeySet
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&keys); err != nil {
			return nil, fmt.Errorf("%s: not a JSON list of {\"kid\",\"secret\"}: %v", SecretName, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%s: text after the JSON list", SecretName)
		}
		return keys.check()
	case strings.Contains(text, "\n"):
		var keys KeySet
		for i, line := range strings.Split(text, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			id, secret, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("%s: line %d: want kid:secret", SecretName, i+1)
			}
			keys = append(keys, Key{ID: strings.TrimSpace(id), Secret: strings.TrimSpace(secret)})
		}
		return keys.check()
	}
	if len(text) < minKeyBytes {
		return nil, fmt.Errorf("auth: %s must be at least %d bytes", SecretName, minKeyBytes)
	}
	return KeySet{{Secret: text}}, nil
}

func (ks KeySet) check() (KeySet, error) {
	if len(ks) == 0 {
		return nil, fmt.Errorf("%s: the key list is empty", SecretName)
	}
	if len(ks) > maxKeys {
		return nil, fmt.Errorf("%s: %d keys, at most %d", SecretName, len(ks), maxKeys)
	}
	seen := map[string]bool{}
	for i, k := range ks {
		if !keyID.MatchString(k.ID) {
			return nil, fmt.Errorf("%s: key %d: kid must match %s", SecretName, i+1, keyID)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("%s: key %d: kid %q listed twice", SecretName, i+1, k.ID)
		}
		seen[k.ID] = true
		if len(k.Secret) < minKeyBytes {
			return nil, fmt.Errorf("%s: key %q: secret must be at least %d bytes", SecretName, k.ID, minKeyBytes)
		}
	}
	return ks, nil
}

// Signing is the key new tokens are signed with: the newest.
func (ks KeySet) Signing() (Key, bool) {
	if len(ks) == 0 {
		return Key{}, false
	}
	return ks[0], true
}

// candidates are the keys that may have signed a token with kid: the one
// listed under kid, or, for a token without kid (signed before rotation
// began), every key.
func (ks KeySet) candidates(kid string) []Key {
	if kid == "" {
		return ks
	}
	for _, k := range ks {
		if k.ID == kid {
			return []Key{k}
		}
	}
	return nil
}
