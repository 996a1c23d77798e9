package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"iter"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/ingest"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

func TestMain(m *testing.M) {
	// The test binary is the upload tests' PDF worker, as kefu is.
	if len(os.Args) > 1 && os.Args[1] == ingest.PDFWorkerCommand {
		os.Exit(ingest.ServePDFWorker(os.Stdin, os.Stdout))
	}
	goleak.VerifyTestMain(m)
}

var tokenSecret = []byte("shop-backend-shared-secret")

// env is a Server wired to fakes.
type env struct {
	srv      *api.Server
	store    *memStore
	answerer *fakeAnswerer
	logs     *logBuffer
	registry *prometheus.Registry
	header   []string // sent by do when a request names no header
}

type envOption func(*api.Config, *api.Deps)

func withKeys(t *testing.T, cfg ...auth.KeyConfig) envOption {
	keys, err := auth.NewKeys(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return func(_ *api.Config, d *api.Deps) { d.Keys = keys }
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{
		store:    newMemStore(),
		answerer: &fakeAnswerer{StreamFn: nil},
		logs:     &logBuffer{},
		registry: prometheus.NewRegistry(),
	}
	e.answerer.StreamFn = func(ctx context.Context, tr rag.Turn) iter.Seq2[rag.Event, error] {
		return events(nil, answerEvents("Opened headphones can be returned within 30 days [1].")...)
	}
	// Limits high enough for tests that are not about them; failed
	// authentications are limited tightly by default.
	cfg := api.Config{Version: "test", Limits: api.Limits{AuthFailBurst: 1000}}
	deps := api.Deps{
		Answerer:      e.answerer,
		Conversations: e.store,
		TokenSecret:   tokenSecret,
		Logger:        e.logs.logger(),
		Registry:      e.registry,
	}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	// Without keys the shopper routes open, as under kefu serve --demo;
	// withClosedDefault tests the closed default.
	if deps.Keys.Len() == 0 && !cfg.OpenShopperRoutes {
		cfg.OpenShopperRoutes = !closedDefault(cfg)
	}
	e.srv = api.New(cfg, deps)
	return e
}

// closedMarker marks a Config built by withClosedDefault.
const closedMarker = "closed-default"

func closedDefault(cfg api.Config) bool { return cfg.Version == closedMarker }

// withClosedDefault builds the server as plain kefu serve does without
// keys: the shopper routes closed too.
func withClosedDefault() envOption {
	return func(c *api.Config, _ *api.Deps) { c.Version = closedMarker }
}

// withLimits sets the server's limits.
func withLimits(l api.Limits) envOption {
	return func(c *api.Config, _ *api.Deps) { c.Limits = l }
}

// withoutAuthFailures drops the failed-authentication records from an
// audit log, for tests about the accesses that were admitted.
func withoutAuthFailures(recs []store.AuditRecord) []store.AuditRecord {
	var out []store.AuditRecord
	for _, r := range recs {
		if r.Action != "auth.failed" {
			out = append(out, r)
		}
	}
	return out
}

// do sends a request through the handler and returns the recorded reply.
func (e *env) do(t *testing.T, method, path, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if len(header) == 0 {
		header = e.header
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func chatBody(t *testing.T, req api.ChatRequest) string {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, data, err)
	}
	return v
}

// wantError checks an error reply's status and code.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) api.ErrorBody {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("content type = %q", ct)
	}
	body := decode[api.ErrorResponse](t, rec.Body.Bytes()).Error
	if body.Code != code || body.Message == "" {
		t.Fatalf("error = %+v, want code %q and a message", body, code)
	}
	return body
}

func token(t *testing.T, customer string) string {
	t.Helper()
	tok, err := auth.Mint(tokenSecret, customer, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// sseEvent is one parsed server-sent event; a comment line is kept as an
// event named ":".
type sseEvent struct {
	name string
	data string
}

// readSSE parses server-sent events from r until it ends, or until stop
// returns true for an event.
func readSSE(t *testing.T, r io.Reader, stop func(sseEvent) bool) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var done *sseEvent
		switch {
		case line == "":
			if cur.name != "" {
				ev := cur
				done = &ev
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, ":"):
			done = &sseEvent{name: ":", data: strings.TrimSpace(line[1:])}
		case strings.HasPrefix(line, "event: "):
			cur.name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			cur.data += line[len("data: "):]
		default:
			t.Errorf("unexpected SSE line %q", line)
		}
		if done != nil {
			out = append(out, *done)
			if stop != nil && stop(*done) {
				return out
			}
		}
	}
	return out
}

func names(evs []sseEvent, skipComments bool) []string {
	var out []string
	for _, ev := range evs {
		if skipComments && ev.name == ":" {
			continue
		}
		out = append(out, ev.name)
	}
	return out
}

func authKey(name, key string) auth.KeyConfig {
	return auth.KeyConfig{Name: name, Role: auth.RoleWidget, Key: key}
}
