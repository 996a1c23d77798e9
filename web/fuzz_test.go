package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/web"
)

// FuzzServe: no request path makes the site fail, or serve anything but a
// page, the loader or a file of static/ (never a template or a Go file).
func FuzzServe(f *testing.F) {
	s, err := web.New(web.Config{})
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{"/", "/chat", "/kefu/widget.js", "/kefu/v/" + s.Version() + "/chat.js", "/kefu/v/x/../templates/chat.html",
		"/kefu/v//chat.js", "/kefu/v/a/b/../../web.go", "/kefu/v/a/%2e%2e/doc.go", "/kefu/v/a/."} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		u, err := url.Parse(p)
		if err != nil || !strings.HasPrefix(u.Path, "/") {
			return
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL = u
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			body := w.Body.String()
			if strings.Contains(body, "{{") || strings.Contains(body, "package web") {
				t.Fatalf("%q served a template or Go source", p)
			}
		}
	})
}
