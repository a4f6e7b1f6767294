package privacy

import "testing"

// FuzzDecodeErasureList: never panics; what it accepts is well-formed.
func FuzzDecodeErasureList(f *testing.F) {
	f.Add([]byte(`{"tenant":"acme","erasures":[{"device_sha256":"` + DeviceDigest("acme", "d1") + `","erased_before":"2026-11-29T12:00:00Z","receipt":"0123456789abcdef0123456789abcdef"}]}`))
	f.Add([]byte(`{"tenant":"acme","erasures":[]}`))
	f.Add([]byte(`{"erasures":[{}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := DecodeErasureList(body)
		if err != nil {
			return
		}
		if l.Tenant == "" {
			t.Fatal("accepted a list without a tenant")
		}
		for _, e := range l.Erasures {
			if !digestPattern.MatchString(e.DeviceSHA256) || !ValidReceiptID(e.Receipt) || e.ErasedBefore.IsZero() {
				t.Fatalf("accepted %+v", e)
			}
		}
	})
}
