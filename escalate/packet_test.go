package escalate

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
)

func TestBuildPacket(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	cites := json.RawMessage(`[{"n":1,"doc_id":"policy-returns","title":"Returns","source":"policies/returns.md"},{"n":2,"doc_id":"faq-7","title":"FAQ","source":"faq.jsonl"}]`)
	msgs := []store.Message{
		{ID: "m1", Role: kefu.RoleUser, Content: "Where is order w261118-1004? Call 13812345678", CreatedAt: at},
		{ID: "m2", Role: kefu.RoleAssistant, Content: "It shipped with SF1420576381945 [1].", Decision: rag.DecideAnswer, Intent: rag.IntentOrderStatus, Citations: cites, CreatedAt: at},
		{ID: "m3", Role: kefu.RoleSystem, Content: "internal note W000000-0000", CreatedAt: at},
		{ID: "m4", Role: kefu.RoleUser, Content: "It has not arrived, this is ridiculous!!!", CreatedAt: at},
		{ID: "m5", Role: kefu.RoleAssistant, Content: strings.Repeat("long answer ", 100), Decision: rag.DecideEscalate, Intent: rag.IntentComplaint, Escalated: true, Citations: cites, CreatedAt: at},
		{ID: "m6", Role: kefu.RoleAgent, Content: "Hi, this is Alice; W261118-1004 is with the courier.", CreatedAt: at},
	}
	tk := store.Ticket{Reason: ReasonAnger, Priority: store.PriorityHigh, Team: "support", Intent: rag.IntentOrderStatus, Locale: "en"}
	p := buildPacket(tk, []string{ReasonAnger}, msgs)

	if !slices.Equal(p.OrderIDs, []string{"W261118-1004"}) || !slices.Equal(p.TrackingNumbers, []string{"SF1420576381945"}) {
		t.Errorf("order ids %v, tracking %v", p.OrderIDs, p.TrackingNumbers)
	}
	if len(p.Sentiment) != 2 || p.Sentiment[0].Sentiment != rag.SentimentNeutral || p.Sentiment[1].Sentiment != rag.SentimentAngry || p.Sentiment[1].MessageID != "m4" {
		t.Errorf("sentiment trend = %+v", p.Sentiment)
	}
	if len(p.Tried) != 2 || p.Tried[0].Decision != rag.DecideAnswer || !p.Tried[1].Escalated || len([]rune(p.Tried[1].Answer)) > maxAnswerRunes+1 {
		t.Errorf("tried = %+v", p.Tried)
	}
	if len(p.Sources) != 2 || p.Sources[0].DocID != "policy-returns" || p.Sources[1].Title != "FAQ" {
		t.Errorf("sources = %+v", p.Sources)
	}
	if len(p.Transcript) != 5 || p.Transcript[4].Role != kefu.RoleAgent || p.Transcript[2].MessageID != "m4" {
		t.Errorf("transcript = %+v", p.Transcript)
	}
	want := `Intent order_status. First message: "Where is order w261118-1004? Call 13812345678". Last message: "It has not arrived, this is ridiculous!!!".`
	if p.Summary != want {
		t.Errorf("summary = %s\nwant      %s", p.Summary, want)
	}

	red := p.Redact()
	raw, _ := json.Marshal(red)
	if !red.Redacted || strings.Contains(string(raw), "13812345678") || !strings.Contains(red.Summary, "[phone]") ||
		!strings.Contains(red.Transcript[0].Content, "[phone]") || !strings.Contains(string(raw), "SF1420576381945") {
		t.Errorf("redacted packet = %s", raw)
	}
	if !strings.Contains(p.Transcript[0].Content, "13812345678") || p.Redacted {
		t.Error("Redact changed the original")
	}
}

func TestPacketTranscriptKeepsTheLastMessages(t *testing.T) {
	var msgs []store.Message
	for i := range maxTranscript + 10 {
		msgs = append(msgs, store.Message{ID: "m" + string(rune('a'+i%26)), Role: kefu.RoleUser, Content: "message"})
	}
	msgs[0].Content = "the very first question"
	p := buildPacket(store.Ticket{Intent: rag.IntentOther}, nil, msgs)
	if len(p.Transcript) != maxTranscript || !strings.Contains(p.Summary, "the very first question") {
		t.Errorf("transcript %d lines, summary %q", len(p.Transcript), p.Summary)
	}
}

// TestSummaryCutNeverSplitsANumber plays a card number and a phone number
// straddling the summary's cut: the redacted packet (the webhook's copy)
// holds no run of their digits.
func TestSummaryCutNeverSplitsANumber(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ name, number string }{
		{"card", "4111 1111 1111 1111"},
		{"phone", "138 1234 5678"},
		{"zh id", "11010519491231002X"},
	} {
		for shift := 0; shift < 20; shift++ {
			// The number starts a few runes before the 160-rune cut.
			msg := strings.Repeat("x", maxSummaryRunes-len(tc.number)/2-shift) + " " + tc.number + " thanks"
			msgs := []store.Message{{ID: "m1", Role: kefu.RoleUser, Content: msg, CreatedAt: at}}
			p := buildPacket(store.Ticket{Intent: rag.IntentPayment, Locale: "en"}, nil, msgs)
			red := p.Redact()
			digits := strings.NewReplacer(" ", "").Replace(tc.number)
			for _, part := range []string{digits[:4], digits[len(digits)-4:], strings.Fields(tc.number)[0]} {
				if strings.Contains(red.Summary, part) && !strings.Contains(strings.Repeat("x", 200), part) {
					t.Fatalf("%s, shift %d: the redacted summary holds %q: %s", tc.name, shift, part, red.Summary)
				}
			}
			if len([]rune(msg)) > maxSummaryRunes && !strings.HasSuffix(strings.TrimSuffix(red.Summary, "."), `..."`) { // "…" in NFKC
				t.Fatalf("summary not cut: %s", red.Summary)
			}
		}
	}
}

func TestTriedAnswerCutNeverSplitsANumber(t *testing.T) {
	answer := strings.Repeat("y", maxAnswerRunes-8) + " call 13812345678 today"
	msgs := []store.Message{
		{ID: "m1", Role: kefu.RoleUser, Content: "help"},
		{ID: "m2", Role: kefu.RoleAssistant, Content: answer, Decision: rag.DecideAnswer},
	}
	red := buildPacket(store.Ticket{}, nil, msgs).Redact()
	if strings.Contains(red.Tried[0].Answer, "138") {
		t.Errorf("the redacted answer holds part of the number: %s", red.Tried[0].Answer)
	}
}
