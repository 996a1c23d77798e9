package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
)

// The product page a shopper asks from reaches the turn, in the JSON and
// the SSE form of POST /v1/chat alike, and applies to that turn only.
func TestChatProductID(t *testing.T) {
	e := newEnv(t)
	log := recording(e)
	for _, accept := range []string{"application/json", "text/event-stream"} {
		rec := e.do(t, http.MethodPost, "/v1/chat", `{"message":"does it work with the iPad Air?","product_id":" LM-TC-002 "}`, "Accept", accept)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", accept, rec.Code, rec.Body)
		}
		if accept == "text/event-stream" && !strings.Contains(rec.Body.String(), "event: done") {
			t.Errorf("%s: no done event in %s", accept, rec.Body)
		}
	}
	conv := decode[api.ChatResponse](t, e.do(t, http.MethodPost, "/v1/chat",
		chatBody(t, api.ChatRequest{Message: "and the iPad Pro?", ProductID: "examples/demo-shop/products.json#LM-TC-002"})).Body.Bytes())
	e.do(t, http.MethodPost, "/v1/chat", chatBody(t, api.ChatRequest{ConversationID: conv.ConversationID, Message: "what is your returns policy?"}))
	turns := log.all()
	want := []string{"LM-TC-002", "LM-TC-002", "examples/demo-shop/products.json#LM-TC-002", ""}
	if len(turns) != len(want) {
		t.Fatalf("%d turns, want %d", len(turns), len(want))
	}
	for i, w := range want {
		if turns[i].ProductID != w {
			t.Errorf("turn %d: ProductID %q, want %q", i, turns[i].ProductID, w)
		}
	}
}

func TestChatProductIDRefused(t *testing.T) {
	e := newEnv(t)
	log := recording(e)
	for _, tc := range []struct{ name, body, want string }{
		{"too long", `{"message":"hi","product_id":"` + strings.Repeat("a", kefu.MaxProductIDLen+1) + `"}`, "limit is 128"},
		{"a space inside", `{"message":"hi","product_id":"LM TC"}`, "product id"},
		{"markup", `{"message":"hi","product_id":"<script>"}`, "letters, digits"},
		{"a control character", `{"message":"hi","product_id":"P1\u0000"}`, "product id"},
		{"not a string", `{"message":"hi","product_id":42}`, `"product_id"`},
	} {
		for _, accept := range []string{"application/json", "text/event-stream"} {
			rec := e.do(t, http.MethodPost, "/v1/chat", tc.body, "Accept", accept)
			body := wantError(t, rec, http.StatusBadRequest, kefu.EInvalid)
			if !strings.Contains(body.Message, tc.want) {
				t.Errorf("%s (%s): message %q, want it to say %q", tc.name, accept, body.Message, tc.want)
			}
		}
	}
	if n := len(log.all()); n != 0 {
		t.Errorf("%d turns answered for refused requests", n)
	}
}

// POST /v1/chat/completions takes the product from the X-Kefu-Product-Id
// header or a top-level product_id field; both must agree.
func TestCompletionsProductID(t *testing.T) {
	_, opt := withBolt(t)
	e := newEnv(t, opt)
	log := recording(e)
	const msgs = `"messages":[{"role":"user","content":"does it work with the iPad Air?"}]`
	for _, tc := range []struct {
		name, body string
		header     []string
		want       string
	}{
		{"header", `{` + msgs + `}`, []string{api.HeaderProductID, "LM-TC-002"}, "LM-TC-002"},
		{"field", `{` + msgs + `,"product_id":"B00X4WHP5E"}`, nil, "B00X4WHP5E"},
		{"both agree", `{` + msgs + `,"product_id":"P1"}`, []string{api.HeaderProductID, " P1"}, "P1"},
		{"streamed", `{` + msgs + `,"stream":true}`, []string{api.HeaderProductID, "P2"}, "P2"},
		{"none", `{` + msgs + `}`, nil, ""},
	} {
		before := len(log.all())
		rec := e.do(t, http.MethodPost, "/v1/chat/completions", tc.body, tc.header...)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", tc.name, rec.Code, rec.Body)
		}
		turns := log.all()
		if len(turns) != before+1 || turns[before].ProductID != tc.want {
			t.Errorf("%s: turns %d (was %d), product %q, want %q", tc.name, len(turns), before, turns[len(turns)-1].ProductID, tc.want)
		}
	}
	before := len(log.all())
	for _, tc := range []struct {
		name, body string
		header     []string
		want       string
	}{
		{"disagree", `{` + msgs + `,"product_id":"P1"}`, []string{api.HeaderProductID, "P2"}, "different products"},
		{"bad header", `{` + msgs + `}`, []string{api.HeaderProductID, "P1;DROP"}, "letters, digits"},
		{"bad header beside a good field", `{` + msgs + `,"product_id":"P1"}`, []string{api.HeaderProductID, "P 2"}, "product id"},
		{"bad field", `{` + msgs + `,"product_id":"` + strings.Repeat("x", 200) + `"}`, nil, "limit is 128"},
	} {
		rec := e.do(t, http.MethodPost, "/v1/chat/completions", tc.body, tc.header...)
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("%s: status %d, want 400: %s", tc.name, rec.Code, rec.Body)
		}
		body := decode[api.OpenAIErrorResponse](t, rec.Body.Bytes()).Error
		if body.Code != kefu.EInvalid || !strings.Contains(body.Message, tc.want) {
			t.Errorf("%s: error %+v, want code invalid saying %q", tc.name, body, tc.want)
		}
	}
	if n := len(log.all()); n != before {
		t.Errorf("%d turns answered for refused requests", n-before)
	}
}
