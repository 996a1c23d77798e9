package api

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzCheckOrigin: no origin or referer naming another host than the
// request's passes, whatever its shape.
func FuzzCheckOrigin(f *testing.F) {
	for _, s := range []string{"http://example.com", "https://evil.example", "null", "http://example.com.evil.example",
		"http://EXAMPLE.com", "//example.com", "http://example.com@evil.example", "javascript:alert(1)", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, origin string) {
		r := httptest.NewRequest("POST", "/v1/session", nil) // Host example.com
		r.Header.Set("Origin", origin)
		err := checkOrigin(r, true)
		if err != nil {
			return
		}
		u, perr := url.Parse(origin)
		if perr != nil || !strings.EqualFold(u.Host, "example.com") || (u.Scheme != "http" && u.Scheme != "https") {
			t.Fatalf("origin %q passed for host example.com", origin)
		}
	})
}
