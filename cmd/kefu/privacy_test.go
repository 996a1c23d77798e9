package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/store"
)

// The shopper's words in the scripted session: personal data, and a phrase
// no redactor would touch, so that finding none of them on disk proves
// encryption and not only redaction.
var shopperSecrets = []string{
	"13812345678",                             // a Chinese mobile number
	"li.wei@example.com",                      // an e-mail address
	"110101199003071234",                      // a Chinese ID number
	"4111 1111 1111 1111", "4111111111111111", // a card number, as typed and as digits
	"zebra-marmalade-quartet",       // the shopper's own phrase
	"walrus-lantern-from-the-agent", // the agent's reply
	"heliotrope-sparrow-comment",    // the feedback comment
	"C7001",                         // the shopper's id
}

// TestDataAtRestAfterAScriptedSession runs a shopper's session through the
// real server (chat turns with a phone number, an e-mail, an ID and a card
// number, a handoff, an agent's reply, feedback with a comment, a webhook
// that fails so its events stay queued), stops it, and reads every byte of
// every file of the data dir: none of the shopper's words is there. Then it
// exports the shopper with kefu customer export (every message, ticket and
// feedback is in it), erases them with kefu customer delete, and finds
// nothing of theirs left but the audit entry.
func TestDataAtRestAfterAScriptedSession(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable) // the helpdesk is down: events wait in the outbox
	}))
	defer hook.Close()
	const widgetKey, agentKey, adminKey = "widget-key-for-the-test-0123", "agent-key-for-the-test-01234", "admin-key-for-the-test-01234"
	dir := t.TempDir()
	env := map[string]string{
		"KEFU_DATA_DIR":               dir,
		"KEFU_ESCALATION_WEBHOOK_URL": hook.URL,
		"KEFU_WEBHOOK_SECRET":         "webhook-secret-0123456789",
		"KEFU_API_KEYS":               "web:widget:" + auth.HashKey(widgetKey) + ",alice:agent:" + auth.HashKey(agentKey) + ",ops:admin:" + auth.HashKey(adminKey),
		"KEFU_TOKEN_SECRET":           "token-secret-for-the-test-0123",
	}
	getenv := func(k string) string { return env[k] }
	cfg, err := LoadConfig("", getenv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.Addr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := &globals{stdout: io.Discard, stderr: io.Discard, getenv: getenv}
	base, errc := startServe(t, ctx, g, cfg, false)
	tok, err := auth.Mint([]byte(env["KEFU_TOKEN_SECRET"]), "C7001", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, key, body string, header ...string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, m)
		}
		return m
	}
	shopper := []string{"X-Kefu-Customer-Token", tok}
	m := call("POST", "/v1/chat", widgetKey, `{"message":"Hi, zebra-marmalade-quartet here. My phone is 13812345678 and my email is li.wei@example.com"}`, shopper...)
	conv := m["conversation_id"].(string)
	answer := m["message_id"].(string)
	call("POST", "/v1/chat", widgetKey, `{"conversation_id":"`+conv+`","message":"My ID number is 110101199003071234 and my card is 4111 1111 1111 1111"}`, shopper...)
	m = call("POST", "/v1/chat", widgetKey, `{"conversation_id":"`+conv+`","message":"I want to talk to a human, zebra-marmalade-quartet"}`, shopper...)
	if m["escalated"] != true {
		t.Fatalf("no handoff: %v", m)
	}
	ticket := m["ticket_id"].(string)
	call("POST", "/v1/agent/tickets/"+ticket+"/claim", agentKey, "")
	call("POST", "/v1/agent/tickets/"+ticket+"/reply", agentKey, `{"message":"walrus-lantern-from-the-agent: we will call 13812345678"}`)
	call("POST", "/v1/conversations/"+conv+"/feedback", widgetKey,
		`{"message_id":"`+answer+`","rating":"down","comment":"heliotrope-sparrow-comment, call me on 13812345678"}`, shopper...)
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("serve returned %v after shutdown", err)
	}

	scanDataDir(t, dir)

	// The export holds every message, the ticket with its packet and the
	// feedback.
	out, stderr, err := run(t, env, "customer", "export", "C7001")
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	var ex store.CustomerExport
	if err := json.Unmarshal([]byte(out), &ex); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, out)
	}
	if len(ex.Conversations) != 1 || len(ex.Tickets) == 0 || len(ex.Conversations[0].Feedback) != 1 || len(ex.OutboxEvents) == 0 {
		t.Fatalf("export: %d conversations, %d tickets, %d outbox events", len(ex.Conversations), len(ex.Tickets), len(ex.OutboxEvents))
	}
	roles := map[string]int{}
	for _, msg := range ex.Conversations[0].Messages {
		roles[msg.Role]++
	}
	if roles["user"] != 3 || roles["assistant"] < 3 || roles["agent"] != 1 {
		t.Errorf("exported messages by role = %v", roles)
	}
	for _, want := range []string{"zebra-marmalade-quartet", "walrus-lantern-from-the-agent", "heliotrope-sparrow-comment", ticket} {
		if !strings.Contains(out, want) {
			t.Errorf("the export lacks %q", want)
		}
	}
	if len(ex.Tickets[0].Packet) == 0 {
		t.Error("the exported ticket has no packet")
	}

	// Erased, the shopper leaves nothing but the audit entry.
	out, stderr, err = run(t, env, "customer", "delete", "C7001")
	if err != nil || !strings.Contains(out, "1 conversations") || !strings.Contains(out, fmt.Sprintf("%d tickets", len(ex.Tickets))) ||
		!strings.Contains(stderr, "compacted") {
		t.Fatalf("delete: %v\n%s\n%s", err, out, stderr)
	}
	out, _, err = run(t, env, "customer", "export", "C7001")
	if err != nil || !strings.Contains(out, `"conversations": []`) || !strings.Contains(out, `"tickets": []`) || !strings.Contains(out, `"outbox_events": []`) {
		t.Errorf("export after erasure: %v\n%s", err, out)
	}
	s, err := openConversations(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := s.TicketStats(context.Background())
	n, _ := s.OutboxLen(context.Background())
	page, _ := s.Audit(context.Background(), store.AuditQuery{Action: store.ActionCustomerErase})
	s.Close()
	if st.Conversations != 0 || st.Tickets != 0 || n != 0 {
		t.Errorf("after erasure: %d conversations, %d tickets, %d outbox events", st.Conversations, st.Tickets, n)
	}
	if len(page.Records) != 1 || page.Records[0].Target != store.CustomerRef("C7001") || page.Records[0].Actor != "kefu-cli" {
		t.Errorf("erasure audit = %+v", page.Records)
	}
	out, _, err = run(t, env, "audit", "verify")
	if err != nil || !strings.Contains(out, "audit log intact") {
		t.Errorf("audit verify: %v\n%s", err, out)
	}
	out, _, err = run(t, env, "audit", "--actor", "alice")
	if err != nil || !strings.Contains(out, "ticket.claim") || !strings.Contains(out, "ticket.reply") {
		t.Errorf("kefu audit --actor alice: %v\n%s", err, out)
	}
	scanDataDir(t, dir)
}

// scanDataDir reads every byte of every file under dir, as strings(1)
// would, and fails on any of the shopper's words.
func scanDataDir(t *testing.T, dir string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, s := range shopperSecrets {
			if strings.Contains(string(raw), s) {
				rel, _ := filepath.Rel(dir, path)
				t.Errorf("%s holds %q", rel, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("scanned only %d files", files)
	}
}

func TestKeysRotateAndRetentionRun(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"KEFU_DATA_DIR": dir}
	cfg, err := LoadConfig("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	s, err := openConversations(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, _, err := s.StartConversation(ctx, "C1", "web", store.Message{Role: "user", Content: "rotate me"})
	if err != nil {
		t.Fatal(err)
	}
	old := store.AuditRecord{At: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Actor: "alice", Role: "agent", Action: "ticket.view"}
	if err := s.AppendAudit(ctx, old); err != nil {
		t.Fatal(err)
	}
	s.Close()
	keyFile := filepath.Join(dir, store.KeyFileName)
	before, _ := os.ReadFile(keyFile)

	out, stderr, err := run(t, env, "keys", "rotate")
	if err != nil || !strings.Contains(out, "every record is under key") || !strings.Contains(out, "retired 1 old keys") {
		t.Fatalf("rotate: %v\n%s\n%s", err, out, stderr)
	}
	after, _ := os.ReadFile(keyFile)
	if string(after) == string(before) || strings.Count(string(after), "current") != 1 || strings.Contains(string(after), "retired") {
		t.Errorf("key file after rotation:\n%s", after)
	}
	out, _, err = run(t, env, "keys", "status")
	if err != nil || !strings.Contains(out, "current") || strings.Contains(out, "not configured") {
		t.Errorf("status: %v\n%s", err, out)
	}
	s, err = openConversations(cfg)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Messages(ctx, c.ID, 0)
	s.Close()
	if err != nil || len(msgs) != 1 || msgs[0].Content != "rotate me" {
		t.Fatalf("after rotation: %+v, %v", msgs, err)
	}
	// Keys from the environment: kefu cannot write them, and says how.
	env["KEFU_ENCRYPTION_KEY"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	if _, _, err := run(t, env, "keys", "rotate"); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("rotate with env keys: %v", err)
	}
	delete(env, "KEFU_ENCRYPTION_KEY")

	// The audit record from 2020 is past the 3-year window; the fresh
	// conversation stays.
	out, stderr, err = run(t, env, "retention", "run")
	if err != nil || !strings.Contains(out, "removed: 0 conversations, 0 messages, 0 feedback, 0 tickets, 0 outbox events, 1 audit records") ||
		!strings.Contains(stderr, "compacted") {
		t.Errorf("retention run: %v\n%s\n%s", err, out, stderr)
	}
	out, _, err = run(t, env, "retention", "run", "--json")
	if err != nil || !strings.Contains(out, `"conversations": 0`) || !strings.Contains(out, `"audit_records": 0`) {
		t.Errorf("second retention run: %v\n%s", err, out)
	}
	out, _, err = run(t, env, "audit", "--json")
	if err != nil || !strings.Contains(out, `"action": "retention.run"`) || strings.Contains(out, `"ticket.view"`) {
		t.Errorf("audit after retention: %v\n%s", err, out)
	}
	if out, _, err := run(t, env, "audit", "verify"); err != nil || !strings.Contains(out, "intact") {
		t.Errorf("audit verify after retention: %v\n%s", err, out)
	}
	env["KEFU_RETENTION_CHATS"] = "-1h"
	if _, _, err := run(t, env, "retention", "run"); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("negative window: %v", err)
	}
}

func TestStoreConfig(t *testing.T) {
	cfg, err := LoadConfig("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Store.Retention
	if r.Chats != 4320*time.Hour || r.Tickets != 2*8760*time.Hour || r.Audit != 3*8760*time.Hour || r.Feedback != r.Chats || r.Outbox != r.Chats || r.Interval != time.Hour {
		t.Errorf("defaults = %+v", r)
	}
	path := filepath.Join(t.TempDir(), "kefu.yaml")
	os.WriteFile(path, []byte("store:\n  encryption_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"), 0o600)
	if _, err := LoadConfig(path, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "not kefu.yaml") ||
		strings.Contains(err.Error(), "AAAAAAAA") {
		t.Errorf("a key in kefu.yaml: %v", err)
	}
	for env, want := range map[string]string{
		"KEFU_ENCRYPTION_KEY":     "base64",
		"KEFU_RETENTION_INTERVAL": "shorter than a minute",
	} {
		vals := map[string]string{env: "1s"}
		if env == "KEFU_ENCRYPTION_KEY" {
			vals[env] = "not-a-key!"
		}
		if _, err := LoadConfig("", func(k string) string { return vals[k] }); err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "not-a-key") {
			t.Errorf("%s: %v", env, err)
		}
	}
}
