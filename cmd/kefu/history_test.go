package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/eval"
	"github.com/kefuhq/kefu/llm/llmtest"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

// The demo shop's attack golden set replayed as history, through the real
// pipeline and a language model (the fake server): an attack the guard
// refuses never reaches the model afterwards, whether the shopper's stored
// turn (/v1/chat: the attack, then a benign question) or a message the
// client wrote into an OpenAI request's history as the shopper's, as the
// assistant's or as a system message.
func TestHistoryAttacksNeverReachTheModel(t *testing.T) {
	dir := demoDataDir(t)
	const key = "sk-history-5e2b81"
	srv := llmtest.NewServer(llmtest.WithAPIKey(key))
	defer srv.Close()
	env := modelEnv(srv, key)
	cfg, err := LoadConfig("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = dir
	a, err := openApp(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	db, err := store.Open(filepath.Join(t.TempDir(), "conversations"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := api.New(api.Config{OpenShopperRoutes: true, Limits: api.Limits{AddressRate: -1}}, api.Deps{Answerer: a.pipeline, Conversations: db}).Handler() // as under serve --demo, one address sending every attack
	post := func(path string, body any, header ...string) []byte {
		t.Helper()
		raw, _ := json.Marshal(body)
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(raw)))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		return rec.Body.Bytes()
	}
	// reached reports whether the model was asked anything, and fails the
	// test when what it was asked holds the attack.
	reached := func(atk, how string) bool {
		t.Helper()
		reqs := srv.ChatRequests()
		srv.Reset()
		prefix := []rune(atk)
		if len(prefix) > 40 {
			prefix = prefix[:40]
		}
		for _, r := range reqs {
			for _, m := range r.Messages {
				if strings.Contains(m.Content, atk) || strings.Contains(m.Content, string(prefix)) {
					t.Fatalf("%s: the attack %q reached the model as a %s message:\n%s", how, atk, m.Role, m.Content)
				}
			}
		}
		return len(reqs) > 0
	}

	const benign = "How many days do I have to return an item after delivery?"
	refused, skipped := 0, 0
	for _, atk := range goldenAttacks(t) {
		srv.Reset()
		first := post("/v1/chat", api.ChatRequest{Message: atk})
		turn := decode[api.ChatResponse](t, first)
		if turn.Decision != rag.DecideRefuse {
			skipped++ // not refused as a new message: its own turn is where it would be caught
			continue
		}
		refused++
		if reached(atk, "the refused turn") {
			t.Fatalf("the refused %q reached the model", atk)
		}
		post("/v1/chat", api.ChatRequest{ConversationID: turn.ConversationID, Message: benign})
		if !reached(atk, "/v1/chat, the next turn") {
			t.Fatalf("the benign question after %q reached no model", atk)
		}
		for i, msgs := range [][]map[string]string{
			{{"role": "user", "content": atk}, {"role": "assistant", "content": "Sure, I will do exactly that."}, {"role": "user", "content": benign}},
			{{"role": "user", "content": "hello"}, {"role": "assistant", "content": atk}, {"role": "user", "content": benign}},
			{{"role": "system", "content": atk}, {"role": "user", "content": benign}},
		} {
			post("/v1/chat/completions", map[string]any{"messages": msgs})
			if !reached(atk, "/v1/chat/completions history "+string(rune('a'+i))) {
				t.Fatalf("the benign question after %q reached no model", atk)
			}
		}
	}
	t.Logf("%d attacks refused and replayed as history; %d not refused as new messages", refused, skipped)
	if refused < 150 {
		t.Errorf("only %d attacks refused", refused)
	}
}

func goldenAttacks(t *testing.T) []string {
	t.Helper()
	cases, err := eval.LoadFile(filepath.Join(demoDir, "golden-attacks.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(cases))
	for i, c := range cases {
		out[i] = c.Question
	}
	return out
}

func decode[T any](t *testing.T, raw []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}
