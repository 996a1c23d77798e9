package remote

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// BaseURL is raw without trailing slashes, or def when raw is empty.
func BaseURL(raw, def string) string {
	if raw == "" {
		return def
	}
	return strings.TrimRight(raw, "/")
}

// HTTPURL parses a service's base URL, failing (without showing a
// password in it) when it is not an absolute http(s) URL.
func HTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %s is not an http(s) URL", RedactURL(raw))
	}
	return u, nil
}

// Client is an HTTP client over a Transport that checks bodies with check
// and carries requests over hc's transport (a pooled copy of
// http.DefaultTransport when hc or its transport is nil). hc's Timeout is not kept: the adapter bounds
// each call with its context.
func Client(hc *http.Client, check BodyCheck) *http.Client {
	var base http.RoundTripper = pooled
	if hc != nil && hc.Transport != nil {
		base = hc.Transport
	}
	return &http.Client{Transport: &Transport{Base: base, Check: check}}
}

// pooled is the transport of model clients given none: the default one
// with room to keep a connection per concurrent stream, so a busy server
// does not open (and TLS-handshake) a new connection for most turns.
var pooled = func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 256
	return t
}()

// ConfigView is a model service's config as logs and printouts may show
// it: the base URL without a password, and the API key only as set or not.
type ConfigView struct {
	Kind      string // the config's type as printed, e.g. openai.Config
	BaseURL   string
	Model     string
	KeySet    bool // whether an API key is configured; the key itself never enters the view
	MaxTokens int
	Timeout   time.Duration
}

// LogValue implements slog.LogValuer.
func (v ConfigView) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", RedactURL(v.BaseURL)), slog.String("model", v.Model),
		slog.Bool("api_key_set", v.KeySet), slog.Int("max_tokens", v.MaxTokens), slog.Duration("timeout", v.Timeout))
}

func (v ConfigView) String() string {
	return fmt.Sprintf("%s{BaseURL: %s, Model: %s, APIKey set: %t, MaxTokens: %d, Timeout: %s}",
		v.Kind, RedactURL(v.BaseURL), v.Model, v.KeySet, v.MaxTokens, v.Timeout)
}
