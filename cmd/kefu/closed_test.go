package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/auth"
)

func TestListenAddr(t *testing.T) {
	for _, tc := range []struct {
		addr     string
		keys     bool
		want     string
		refusing bool
	}{
		{"", false, "127.0.0.1:8080", false},
		{"", true, ":8080", false},
		{"127.0.0.1:9000", false, "127.0.0.1:9000", false},
		{"localhost:9000", false, "localhost:9000", false},
		{"[::1]:9000", false, "[::1]:9000", false},
		{":8080", false, "", true},
		{"0.0.0.0:8080", false, "", true},
		{"[::]:8080", false, "", true},
		{"192.0.2.10:8080", false, "", true},
		{"shop.example:8080", false, "", true},
		{":8080", true, ":8080", false},
	} {
		got, err := listenAddr(tc.addr, tc.keys)
		if tc.refusing {
			if err == nil || !strings.Contains(err.Error(), "auth.api_keys") || !strings.Contains(err.Error(), "KEFU_API_KEYS") {
				t.Errorf("listenAddr(%q, keys=%v) = %q, %v; want a refusal naming auth.api_keys and KEFU_API_KEYS", tc.addr, tc.keys, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("listenAddr(%q, keys=%v) = %q, %v; want %q", tc.addr, tc.keys, got, err, tc.want)
		}
	}
}

// Finding 1: kefu served on all interfaces with no keys. Now serve
// refuses to start there, --demo or not.
func TestServeRefusesAnOpenAddressWithoutKeys(t *testing.T) {
	for _, demo := range []bool{false, true} {
		cfg, err := LoadConfig("", func(k string) string { return map[string]string{"KEFU_ADDR": ":0"}[k] })
		if err != nil {
			t.Fatal(err)
		}
		cfg.DataDir = t.TempDir()
		g := &globals{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
		err = serve(context.Background(), g, cfg, demo, func(string) { t.Error("serve started") })
		if err == nil || !strings.Contains(err.Error(), "no API keys are configured") {
			t.Errorf("demo=%v: serve on :0 without keys: %v", demo, err)
		}
	}
}

func TestConfigRefusesTokenSecretInYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kefu.yaml")
	for _, yaml := range []string{
		"auth:\n  token_secret: a-long-enough-secret-in-the-file\n",
		"auth:\n  token_secret_previous: a-long-enough-secret-in-the-file\n",
	} {
		os.WriteFile(path, []byte(yaml), 0o600)
		_, err := LoadConfig(path, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), "is a secret") {
			t.Errorf("%q: %v; want it refused as a secret", yaml, err)
		}
	}
	// The environment's is taken.
	cfg, err := LoadConfig("", func(k string) string {
		return map[string]string{"KEFU_TOKEN_SECRET": "a-long-enough-secret-from-env"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := tokenSecret(cfg); err != nil || string(s) != "a-long-enough-secret-from-env" {
		t.Errorf("token secret = %q, %v", s, err)
	}
}

func TestTokenRefusesTTLOverTheMaximum(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		ok   bool
	}{
		{[]string{"--ttl", "25h"}, nil, false},
		{[]string{"--ttl", "24h"}, nil, true},
		{[]string{"--ttl", "30h"}, map[string]string{"KEFU_TOKEN_MAX_TTL": "48h"}, true},
	} {
		var out, errb bytes.Buffer
		root := newRoot(&out, &errb, func(k string) string { return tc.env[k] })
		root.SetArgs(append([]string{"token", "--data-dir", dir, "--customer", "C1001"}, tc.args...))
		err := root.Execute()
		if tc.ok != (err == nil) {
			t.Errorf("token %v env %v: %v", tc.args, tc.env, err)
		}
		if !tc.ok && err != nil && !strings.Contains(err.Error(), "auth.token_max_ttl") {
			t.Errorf("refusal %q does not name auth.token_max_ttl", err)
		}
		if tc.ok && err == nil {
			// What kefu token mints, the server accepts, at any fraction of
			// a second.
			cfg, _ := LoadConfig("", func(k string) string { return tc.env[k] })
			cfg.DataDir = dir
			secret, _ := tokenSecret(cfg)
			v := auth.Verifier{Secrets: []auth.Secret{{Key: secret}}, MaxTTL: cfg.Auth.TokenMaxTTL}
			if id, err := v.Verify(strings.TrimSpace(out.String()), time.Now()); err != nil || id != "C1001" {
				t.Errorf("token %v: the minted token does not verify: %q, %v", tc.args, id, err)
			}
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serve --demo without keys opens the shopper routes on loopback, prints
// an admin and an agent key once, and accepts them; admin and agent
// routes stay closed to everyone else.
func TestServeDemoPrintsKeys(t *testing.T) {
	cfg, err := LoadConfig("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir()
	cfg.Server.Addr = "127.0.0.1:0"
	stderr := &syncBuffer{}
	g := &globals{stdout: io.Discard, stderr: stderr, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	base, errc := startServe(t, ctx, g, cfg, true)
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	out := stderr.String()
	admin := regexp.MustCompile(`admin\s+(kefu_admin_[0-9a-f]{48})`).FindStringSubmatch(out)
	agent := regexp.MustCompile(`agent\s+(kefu_agent_[0-9a-f]{48})`).FindStringSubmatch(out)
	if admin == nil || agent == nil {
		t.Fatalf("no admin and agent key printed:\n%s", out)
	}
	for _, k := range []string{admin[1], agent[1]} {
		if n := strings.Count(out, k); n != 1 {
			t.Errorf("key printed %d times, want once", n)
		}
	}
	get := func(path, key string) int {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	post := func(path, body, key string) int {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := post("/v1/chat", `{"message":"How long do I have to return an item?"}`, ""); s != 200 {
		t.Errorf("demo chat without a key: %d", s)
	}
	if s := get("/v1/agent/tickets", ""); s != 401 {
		t.Errorf("agent desk without a key: %d, want 401", s)
	}
	if s := get("/v1/agent/tickets", agent[1]); s != 200 {
		t.Errorf("agent desk with the printed agent key: %d", s)
	}
	if s := get("/v1/admin/analytics", admin[1]); s != 200 {
		t.Errorf("analytics with the printed admin key: %d", s)
	}
	if s := post("/v1/admin/documents", "", ""); s != 401 {
		t.Errorf("upload without a key in demo mode: %d, want 401", s)
	}
	if s := post("/v1/admin/documents", "", agent[1]); s != 403 {
		t.Errorf("upload with the agent key: %d, want 403", s)
	}
}

// server.metrics_addr serves /metrics without a key, and nothing else.
func TestServeMetricsListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "kefu_up 1\n") })
	stop, err := serveMetrics(context.Background(), addr, h, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for path, want := range map[string]int{"/metrics": 200, "/v1/chat": 404} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s on the metrics listener: %d, want %d", path, resp.StatusCode, want)
		}
	}
}
