package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"
)

//go:embed static templates
var files embed.FS

// Prefixes of the paths this package serves. Pages of other screens
// (the agent console at /console, the dashboard at /admin) are added in
// Pages with their templates.
const (
	// AssetPrefix is where versioned assets are served:
	// AssetPrefix + Version() + "/" + name.
	AssetPrefix = "/kefu/v/"
	// LoaderPath is the widget loader's stable URL.
	LoaderPath = "/kefu/widget.js"
)

// Config is what the pages show. The zero value is valid.
type Config struct {
	// ShopName is the shop's name by locale ("en", "zh"); empty means
	// "kefu".
	ShopName map[string]string
}

// Page is one HTML screen: its path, its template under templates/ and
// the frame-ancestors it may be embedded by ("'none'" for pages that must
// not be framed, "*" for the chat page that shops frame).
type Page struct {
	Path           string
	Template       string
	FrameAncestors string
}

// Pages are the HTML screens, by path.
var Pages = []Page{
	{Path: "/", Template: "index.html", FrameAncestors: "'none'"},
	{Path: "/chat", Template: "chat.html", FrameAncestors: "*"},
	{Path: "/console", Template: "console.html", FrameAncestors: "'none'"},
	{Path: "/admin", Template: "admin.html", FrameAncestors: "'none'"},
}

// Site serves the pages and assets. It is immutable and safe for
// concurrent use.
type Site struct {
	cfg     Config
	version string
	pages   map[string]*template.Template
	frame   map[string]string
	static  fs.FS
	built   time.Time
}

// New parses the embedded templates and hashes the assets. It fails only
// if the embedded files are broken, which the package's tests catch.
func New(cfg Config) (*Site, error) {
	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static files: %w", err)
	}
	v, err := versionOf(files)
	if err != nil {
		return nil, err
	}
	s := &Site{cfg: cfg, version: v, static: static, pages: map[string]*template.Template{}, frame: map[string]string{}, built: time.Now()}
	for _, p := range Pages {
		t, err := template.ParseFS(files, "templates/"+p.Template)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", p.Template, err)
		}
		s.pages[p.Path] = t
		s.frame[p.Path] = p.FrameAncestors
	}
	return s, nil
}

// Version is the hash that names this build's assets.
func (s *Site) Version() string { return s.version }

// versionOf hashes every embedded file's name and content.
func versionOf(fsys fs.FS) (string, error) {
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("web: list embedded files: %w", err)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", fmt.Errorf("web: read %s: %w", n, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// CSP is the Content-Security-Policy of every HTML page, with its
// frame-ancestors appended: nothing inline, everything from this origin.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; object-src 'none'"

// ServeHTTP serves a page, the loader or an asset; anything else is 404.
// Only GET and HEAD are served.
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	switch {
	case p == LoaderPath:
		s.serveFile(w, r, "widget.js", "public, max-age=300")
	case strings.HasPrefix(p, AssetPrefix):
		rest := strings.TrimPrefix(p, AssetPrefix)
		v, name, ok := strings.Cut(rest, "/")
		if !ok || name == "" || strings.Contains(name, "..") || !fs.ValidPath(name) {
			http.NotFound(w, r)
			return
		}
		cache := "public, max-age=31536000, immutable"
		if v != s.version {
			cache = "no-cache" // an old page asking for an asset of another build
		}
		s.serveFile(w, r, name, cache)
	default:
		t, ok := s.pages[p]
		if !ok {
			http.NotFound(w, r)
			return
		}
		s.servePage(w, r, t, s.frame[p])
	}
}

func (s *Site) serveFile(w http.ResponseWriter, r *http.Request, name, cache string) {
	b, err := fs.ReadFile(s.static, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) { // not left to the system's MIME table
	case ".js", ".mjs":
		ctype = "text/javascript; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	case ".svg":
		ctype = "image/svg+xml"
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", cache)
	w.Header().Set("ETag", `"`+s.version+`"`)
	if name == "widget.js" {
		// The loader runs on shops' pages, which fetch it cross-origin.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
	}
	http.ServeContent(w, r, "", s.built, bytes.NewReader(b))
}

// pageData is what a page's template sees.
type pageData struct {
	Assets   string // AssetPrefix + version, no trailing slash
	ShopName string
	ShopZh   string
	Version  string
	Locale   string // "en" or "zh", from the request's ?locale=
}

func (s *Site) servePage(w http.ResponseWriter, r *http.Request, t *template.Template, frame string) {
	d := pageData{Assets: AssetPrefix + s.version, ShopName: s.name("en"), ShopZh: s.name("zh"), Version: s.version, Locale: "en"}
	if r.URL.Query().Get("locale") == "zh" {
		d.Locale = "zh"
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		http.Error(w, "page unavailable", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", CSP+"; frame-ancestors "+frame)
	if frame == "'none'" {
		h.Set("X-Frame-Options", "DENY")
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(buf.Bytes())
}

func (s *Site) name(locale string) string {
	if n := strings.TrimSpace(s.cfg.ShopName[locale]); n != "" {
		return n
	}
	for _, l := range []string{"en", "zh"} {
		if n := strings.TrimSpace(s.cfg.ShopName[l]); n != "" {
			return n
		}
	}
	return "kefu"
}

// Files are the embedded files (static/ and templates/), for tests.
func Files() fs.FS { return files }
