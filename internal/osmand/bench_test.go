package osmand

import (
	"net/url"
	"testing"
)

func BenchmarkDecodeQuery(b *testing.B) {
	values, err := url.ParseQuery("id=123456&lat=52.52&lon=13.405&timestamp=1772366400&hdop=1.2&altitude=34.5&speed=10&batt=80")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := DecodeQuery(values, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	body := []byte(traccarClient)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := DecodeJSON(body, now); err != nil {
			b.Fatal(err)
		}
	}
}
