package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/llm"
	"github.com/kefuhq/kefu/llm/llmtest"
	"github.com/kefuhq/kefu/store"
)

// A model that fails at any point of an answer (before its first word,
// after it, in the middle, or by running past the time allowed) leaves
// the shopper of JSON /v1/chat with a 200, the conversation id, the stored
// message id and an answer from the shop's documents, marked degraded;
// and the conversation continues.
func TestModelFaultsLeaveTheShopperAnAnswer(t *testing.T) {
	dir := demoDataDir(t)
	const key = "sk-faults-3c9e10"
	srv := llmtest.NewServer(llmtest.WithAPIKey(key))
	defer srv.Close()
	env := modelEnv(srv, key)
	env["KEFU_LLM_FIRST_TOKEN_TIMEOUT"] = "300ms"
	env["KEFU_LLM_TIMEOUT"] = "2s"
	cfg, err := LoadConfig("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = dir
	db, err := store.Open(filepath.Join(t.TempDir(), "conversations"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const answer = "Most items can be returned within 30 days of delivery. [1] Opened items must be undamaged. [1]"
	for _, tc := range []struct {
		name    string
		replies []llmtest.Reply
		started bool // the model's first words are kept
	}{
		{"before the first token", []llmtest.Reply{{Fault: llmtest.ServerError}, {Fault: llmtest.ServerError}}, false},
		{"slow first token", []llmtest.Reply{{Text: answer, FirstTokenDelay: 3 * time.Second}}, false},
		{"after the first token", []llmtest.Reply{{Text: answer, Fault: llmtest.Disconnect, FaultAt: 1}}, true},
		{"mid-stream", []llmtest.Reply{{Text: answer, Fault: llmtest.ErrorEvent, FaultAt: 8}}, true},
		{"past the overall timeout", []llmtest.Reply{{Text: answer, Fault: llmtest.Endless}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A fresh server each time: five failures in a row open the
			// model's circuit breaker, which is not what this test is about.
			a, err := openApp(cfg, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			h := api.New(api.Config{OpenShopperRoutes: true, Limits: api.Limits{AddressRate: -1}}, api.Deps{Answerer: a.pipeline, Conversations: db}).Handler() // as under serve --demo, one address sending every attack
			srv.Reset()
			srv.Script(tc.replies...)
			req := httptest.NewRequest(http.MethodPost, "/v1/chat", strings.NewReader(`{"message":"How many days do I have to return an item after delivery?"}`))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			got := decode[api.ChatResponse](t, rec.Body.Bytes())
			if got.ConversationID == "" || got.MessageID == "" || !got.Degraded || got.Backend != "extractive" || len(got.Citations) == 0 {
				t.Errorf("reply %+v", got)
			}
			note := llm.FallbackNotes["en"]
			if tc.started {
				note = llm.CutShortNotes["en"]
				if !strings.HasPrefix(got.Answer, "Most") {
					t.Errorf("the model's first words are lost: %q", got.Answer)
				}
			}
			if !strings.Contains(got.Answer, note) || !strings.Contains(got.Answer, "30") {
				t.Errorf("answer %q; want the note and the documents' answer", got.Answer)
			}
			msgs, err := db.Messages(t.Context(), got.ConversationID, 0)
			if err != nil || len(msgs) != 2 || msgs[1].ID != got.MessageID || msgs[1].Content != got.Answer {
				t.Errorf("stored %+v, %v", msgs, err)
			}
		})
	}
}
