package web_test

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/web"
)

func site(t *testing.T) *web.Site {
	t.Helper()
	s, err := web.New(web.Config{ShopName: map[string]string{"en": "Lumen <Home>", "zh": "流明家居"}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}

func TestPagesHaveStrictHeaders(t *testing.T) {
	s := site(t)
	for _, p := range web.Pages {
		w := get(t, s, http.MethodGet, p.Path)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d", p.Path, w.Code)
		}
		h := w.Header()
		if got := h.Get("Content-Type"); got != "text/html; charset=utf-8" {
			t.Errorf("%s: content type %q", p.Path, got)
		}
		if got := h.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("%s: cache control %q", p.Path, got)
		}
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors " + p.FrameAncestors, "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p.Path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline code: %q", p.Path, csp)
		}
		body := w.Body.String()
		// No inline script or style: every <script> has a src, no style
		// attribute or <style> element, no on* handler.
		if regexp.MustCompile(`<script(?:\s[^>]*)?>`).FindAllString(body, -1) != nil {
			for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
				if !strings.Contains(tag, " src=") {
					t.Errorf("%s: inline script %s", p.Path, tag)
				}
			}
		}
		if regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=`).MatchString(body) {
			t.Errorf("%s: inline style or handler in the page", p.Path)
		}
		if strings.Contains(body, "Lumen <Home>") {
			t.Errorf("%s: the shop name is not escaped", p.Path)
		}
	}
	if w := get(t, s, http.MethodGet, "/"); w.Header().Get("X-Frame-Options") != "DENY" {
		t.Error("the landing page may be framed")
	}
}

func TestAssets(t *testing.T) {
	s := site(t)
	v := s.Version()
	cases := []struct {
		path, ctype, cache string
		code               int
	}{
		{"/kefu/v/" + v + "/chat.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", 200},
		{"/kefu/v/" + v + "/chat.css", "text/css; charset=utf-8", "public, max-age=31536000, immutable", 200},
		{"/kefu/v/old/chat.js", "text/javascript; charset=utf-8", "no-cache", 200},
		{"/kefu/widget.js", "text/javascript; charset=utf-8", "public, max-age=300", 200},
		{"/kefu/v/" + v + "/../templates/chat.html", "", "", 404},
		{"/kefu/v/" + v + "/", "", "", 404},
		{"/kefu/v/" + v + "/missing.js", "", "", 404},
		{"/nothing", "", "", 404},
	}
	for _, c := range cases {
		w := get(t, s, http.MethodGet, c.path)
		if w.Code != c.code {
			t.Errorf("%s: status %d, want %d", c.path, w.Code, c.code)
			continue
		}
		if c.code != 200 {
			continue
		}
		if got := w.Header().Get("Content-Type"); got != c.ctype {
			t.Errorf("%s: content type %q", c.path, got)
		}
		if got := w.Header().Get("Cache-Control"); got != c.cache {
			t.Errorf("%s: cache %q", c.path, got)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", c.path)
		}
	}
	if w := get(t, s, http.MethodPost, "/chat"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /chat: %d", w.Code)
	}
	if w := get(t, s, http.MethodHead, "/chat"); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD /chat: %d with %d bytes", w.Code, w.Body.Len())
	}
	// Pages name the assets of their own build.
	if body := get(t, s, http.MethodGet, "/chat").Body.String(); !strings.Contains(body, "/kefu/v/"+v+"/chat.js") {
		t.Error("the chat page does not load this build's chat.js")
	}
}

// The widget's size budgets: the loader a shop's page loads at once under
// 15 KB gzipped, everything the chat loads under 60 KB.
func TestWidgetSizeBudgets(t *testing.T) {
	s := site(t)
	loader := get(t, s, http.MethodGet, "/kefu/widget.js").Body.Bytes()
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(loader)
	zw.Close()
	if gz.Len() >= 15<<10 {
		t.Errorf("widget.js is %d bytes gzipped, over the 15 KB budget", gz.Len())
	}
	total := len(loader) + get(t, s, http.MethodGet, "/chat").Body.Len()
	for _, name := range widgetAssets {
		w := get(t, s, http.MethodGet, "/kefu/v/"+s.Version()+"/"+name)
		if w.Code != 200 {
			t.Fatalf("%s: %d", name, w.Code)
		}
		total += w.Body.Len()
	}
	if total >= 60<<10 {
		t.Errorf("the widget is %d bytes, over the 60 KB budget", total)
	}
	t.Logf("widget.js %d bytes (%d gzipped); the whole widget %d bytes", len(loader), gz.Len(), total)
}

// widgetAssets are the files the chat page loads; TestChatPageLoadsOnlyItsAssets
// keeps the list honest.
var widgetAssets = []string{"chat.js", "chat.css", "i18n.js"}

func TestChatPageLoadsOnlyItsAssets(t *testing.T) {
	s := site(t)
	page := get(t, s, http.MethodGet, "/chat").Body.String()
	js := get(t, s, http.MethodGet, "/kefu/v/"+s.Version()+"/chat.js").Body.String()
	refs := regexp.MustCompile(`/kefu/v/[0-9a-f]+/([a-z0-9.]+)`).FindAllStringSubmatch(page, -1)
	refs = append(refs, regexp.MustCompile(`from '\./([a-z0-9.]+)'`).FindAllStringSubmatch(js, -1)...)
	got := map[string]bool{}
	for _, r := range refs {
		got[r[1]] = true
	}
	for _, name := range widgetAssets {
		if !got[name] {
			t.Errorf("the chat does not load %s any more: update widgetAssets", name)
		}
		delete(got, name)
	}
	for name := range got {
		t.Errorf("the chat loads %s, which the size budget does not count", name)
	}
}

// No script of the widget writes HTML from strings: text goes in as text
// nodes (textContent), so no shopper, model or agent text is ever markup.
func TestNoHTMLSinks(t *testing.T) {
	s := site(t)
	_ = s
	sinks := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function`)
	err := fs.WalkDir(web.Files(), "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, _ := fs.ReadFile(web.Files(), p)
		if m := sinks.Find(b); m != nil {
			t.Errorf("%s uses %s", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
