package httpkit

import (
	"math"
	"net/http"
	"strings"
	"testing"
)

func TestJSON(t *testing.T) {
	cases := []struct {
		name   string
		status int
		v      any
		want   string
	}{
		{"object", http.StatusOK, map[string]int{"accepted": 2}, `{"accepted":2}` + "\n"},
		{"struct", http.StatusAccepted, struct {
			A string `json:"a"`
			B []int  `json:"b"`
		}{"x", []int{1, 2}}, `{"a":"x","b":[1,2]}` + "\n"},
		{"nil", http.StatusOK, nil, "null\n"},
		{"HTML characters escaped", http.StatusOK, "<a&b>", `"\u003ca\u0026b\u003e"` + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := JSON(tc.status, tc.v)
			if r.StatusCode != tc.status {
				t.Errorf("status %d, want %d", r.StatusCode, tc.status)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if string(r.Body) != tc.want {
				t.Errorf("body %q, want %q", r.Body, tc.want)
			}
		})
	}
}

func TestJSONEncodeFailure(t *testing.T) {
	cases := []struct {
		name string
		v    any
	}{
		{"NaN", math.NaN()},
		{"channel", make(chan int)},
		{"func in map", map[string]any{"f": func() {}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := JSON(http.StatusOK, tc.v)
			if r.StatusCode != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500", r.StatusCode)
			}
			if !strings.HasPrefix(string(r.Body), `{"error":"encode response: `) {
				t.Fatalf("body %q", r.Body)
			}
		})
	}
}

func TestRaw(t *testing.T) {
	r := Raw(http.StatusOK, "application/gpx+xml", []byte("<gpx/>"))
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "application/gpx+xml" || string(r.Body) != "<gpx/>" {
		t.Fatalf("Raw: %+v", r)
	}
}

func TestErrorResponse(t *testing.T) {
	cases := []struct {
		status int
		msg    string
		want   string
	}{
		{http.StatusBadRequest, "lat: required", `{"error":"lat: required"}` + "\n"},
		{http.StatusNotFound, `device "x" not found`, `{"error":"device \"x\" not found"}` + "\n"},
		{http.StatusInternalServerError, "", `{"error":""}` + "\n"},
	}
	for _, tc := range cases {
		r := ErrorResponse(tc.status, tc.msg)
		if r.StatusCode != tc.status || string(r.Body) != tc.want || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("ErrorResponse(%d, %q) = %d %q", tc.status, tc.msg, r.StatusCode, r.Body)
		}
	}
}
