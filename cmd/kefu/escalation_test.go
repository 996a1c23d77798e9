package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/escalate"
)

func TestEscalationConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kefu.yaml")
	os.WriteFile(path, []byte(`
escalation:
  refund_threshold: "CNY 5000, USD 500"
  max_unresolved_turns: -1
  default_team: general
  teams:
    - name: returns-zh
      intents: [return_refund]
      locales: [zh]
    - name: escalations
      reasons: [legal, chargeback]
  webhook_url: https://helpdesk.example.com/hooks/kefu
`), 0o600)
	cfg, err := LoadConfig(path, func(k string) string {
		return map[string]string{"KEFU_WEBHOOK_SECRET": "webhook-secret-0123456789"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := cfg.Escalation.policy()
	if err != nil {
		t.Fatal(err)
	}
	if len(pol.RefundThresholds) != 2 || pol.MaxUnresolvedTurns != -1 || pol.DefaultTeam != "general" || len(pol.Teams) != 2 ||
		pol.Teams[1].Reasons[1] != "chargeback" {
		t.Errorf("policy = %+v", pol)
	}
	if secret, err := cfg.Escalation.secret(); err != nil || string(secret) != "webhook-secret-0123456789" {
		t.Errorf("secret = %q, %v", secret, err)
	}

	// Defaults.
	cfg, err = LoadConfig("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if e := cfg.Escalation; e.RefundThreshold != "CNY 2000" || e.MaxUnresolvedTurns != 3 || e.DefaultTeam != "support" || e.WebhookURL != "" {
		t.Errorf("defaults = %+v", e)
	}
	// The environment form of teams.
	cfg, err = LoadConfig("", func(k string) string {
		return map[string]string{"KEFU_ESCALATION_TEAMS": "returns-zh:return_refund:zh;escalations:::legal"}[k]
	})
	if err != nil || len(cfg.Escalation.Teams) != 2 || cfg.Escalation.Teams[1].Reasons[0] != "legal" {
		t.Errorf("teams from the environment = %+v, %v", cfg.Escalation.Teams, err)
	}
}

func TestEscalationConfigErrors(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "hook.secret")
	os.WriteFile(secretFile, []byte("webhook-secret-0123456789\n"), 0o600)
	for _, tc := range []struct {
		yaml string
		env  map[string]string
		want string
	}{
		{"escalation:\n  webhook_secret: hunter2hunter2hunter2\n", nil, "escalation.webhook_secret is a secret"},
		{"escalation:\n  teams:\n    - name: returns\n      intents: [refunds]\n", nil, "escalation.teams"},
		{"escalation:\n  team: x\n", nil, "team"},
		{"", map[string]string{"KEFU_ESCALATION_TEAMS": "Bad Name"}, "KEFU_ESCALATION_TEAMS"},
		{"", map[string]string{"KEFU_ESCALATION_REFUND_THRESHOLD": "lots"}, "escalation.refund_threshold"},
		{"", map[string]string{"KEFU_ESCALATION_MAX_UNRESOLVED_TURNS": "-5"}, "escalation.max_unresolved_turns"},
		{"", map[string]string{"KEFU_ESCALATION_DEFAULT_TEAM": "Front Desk"}, "default team"},
		{"", map[string]string{"KEFU_ESCALATION_WEBHOOK_URL": "https://helpdesk.example.com/h"}, "no webhook secret"},
		{"", map[string]string{"KEFU_ESCALATION_WEBHOOK_URL": "ftp://helpdesk.example.com/h", "KEFU_WEBHOOK_SECRET": "webhook-secret-0123456789"}, "escalation.webhook_url"},
		{"", map[string]string{"KEFU_ESCALATION_WEBHOOK_URL": "https://helpdesk.example.com/h", "KEFU_WEBHOOK_SECRET": "short"}, "KEFU_WEBHOOK_SECRET is shorter"},
		{"", map[string]string{"KEFU_WEBHOOK_SECRET": "webhook-secret-0123456789", "KEFU_WEBHOOK_SECRET_FILE": secretFile}, "both set"},
	} {
		path := filepath.Join(dir, "kefu.yaml")
		os.WriteFile(path, []byte(tc.yaml), 0o600)
		_, err := LoadConfig(path, func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %q env %v: error %v, want one naming %s", tc.yaml, tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
}

// kefu serve with an agent key and a webhook: a shopper's request for a
// person becomes a ticket in the agents' queue and a signed call to the
// helpdesk.
func TestServeHandsOverToAPerson(t *testing.T) {
	const secret = "webhook-secret-0123456789"
	var mu sync.Mutex
	var events []escalate.Event
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := escalate.Verify([]byte(secret), r.Header.Get(escalate.HeaderTimestamp), r.Header.Get(escalate.HeaderSignature), body, time.Now(), time.Minute); err != nil {
			t.Errorf("webhook: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev escalate.Event
		json.Unmarshal(body, &ev)
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}))
	defer hook.Close()

	const agentKey = "agent-key-for-the-test-0123"
	env := map[string]string{
		"KEFU_ESCALATION_WEBHOOK_URL": hook.URL,
		"KEFU_WEBHOOK_SECRET":         secret,
		"KEFU_API_KEYS":               "alice:agent:" + auth.HashKey(agentKey),
	}
	cfg, err := LoadConfig("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir()
	cfg.Server.Addr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := &globals{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return env[k] }}
	base, errc := startServe(t, ctx, g, cfg, false)

	call := func(method, path, key, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	// Keys are configured, so chat needs one too; an agent key may chat.
	status, m := call("POST", "/v1/chat", agentKey, `{"message":"我要转人工"}`)
	if status != 200 || m["escalated"] != true || m["ticket_id"] == nil {
		t.Fatalf("chat: %d %v", status, m)
	}
	ticket := m["ticket_id"].(string)
	if status, _ := call("GET", "/v1/agent/tickets", "", ""); status != 401 {
		t.Errorf("the queue without a key: %d", status)
	}
	status, m = call("GET", "/v1/agent/tickets", agentKey, "")
	if status != 200 || len(m["tickets"].([]any)) != 1 {
		t.Fatalf("queue: %d %v", status, m)
	}
	if status, m := call("POST", "/v1/agent/tickets/"+ticket+"/claim", agentKey, ""); status != 200 || m["assignee"] != "alice" {
		t.Fatalf("claim: %d %v", status, m)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the helpdesk got %d events, want 2", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	if events[0].Type != escalate.EventTicketCreated || events[0].Ticket.ID != ticket || events[1].Change != escalate.ChangeClaimed {
		t.Errorf("events = %+v", events)
	}
	mu.Unlock()
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("serve returned %v after shutdown", err)
	}
}
