package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/auth"
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

// The chat widget's key is readable by every visitor of the shop: a
// request from the widget with an agent or admin key is refused, so a shop
// that pastes the wrong key finds out at once instead of publishing it.
func TestWidgetRefusesPrivilegedKeys(t *testing.T) {
	keys, err := auth.NewKeys([]auth.KeyConfig{
		{Name: "web", Role: auth.RoleWidget, Key: widgetKey},
		{Name: "alice", Role: auth.RoleAgent, Key: aliceKey},
		{Name: "root", Role: auth.RoleAdmin, Key: adminKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := api.New(api.Config{Limits: api.Limits{AuthFailBurst: 1000}}, api.Deps{Keys: keys}).Handler()
	cases := []struct {
		key, client string
		want        int
	}{
		{widgetKey, api.ClientWidget, http.StatusServiceUnavailable}, // admitted (no conversation store here)
		{aliceKey, api.ClientWidget, http.StatusForbidden},
		{adminKey, api.ClientWidget, http.StatusForbidden},
		{adminKey, "", http.StatusServiceUnavailable}, // admitted outside the widget (no conversation store here)
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodGet, "/v1/conversations/c_nothing", nil)
		r.Header.Set("Authorization", "Bearer "+c.key)
		if c.client != "" {
			r.Header.Set(api.HeaderClient, c.client)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("key %.12s… client %q: %d %s, want %d", c.key, c.client, w.Code, w.Body.String(), c.want)
		}
		if c.want == http.StatusForbidden && !strings.Contains(w.Body.String(), "widget key") {
			t.Errorf("the refusal does not say why: %s", w.Body.String())
		}
	}
}
