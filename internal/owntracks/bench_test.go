package owntracks

import "testing"

func BenchmarkDecodeLocation(b *testing.B) {
	body := []byte(iosLocation)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Decode(body, "jane", "iPhone"); err != nil {
			b.Fatal(err)
		}
	}
}
