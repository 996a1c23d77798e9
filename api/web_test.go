package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/web"
)

// The API serves the screens with their headers, with or without keys,
// and only GET and HEAD.
func TestWebRoutes(t *testing.T) {
	site, err := web.New(web.Config{ShopName: map[string]string{"en": "Demo Shop"}})
	if err != nil {
		t.Fatal(err)
	}
	h := api.New(api.Config{}, api.Deps{Web: site}).Handler()
	for _, path := range []string{"/", "/chat", "/kefu/widget.js", "/kefu/v/" + site.Version() + "/chat.js"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, w.Code, w.Body.String())
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if !strings.Contains(w.Body.String(), "Demo Shop") || w.Header().Get("Content-Security-Policy") == "" {
		t.Errorf("GET /: no shop name or no CSP")
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/chat", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /chat: %d", w.Code)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/kefu/v/x/../../v1/agent/tickets", nil))
	if w.Code == http.StatusOK {
		t.Errorf("an asset path reached %d", w.Code)
	}
}
