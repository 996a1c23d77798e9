package orders

import (
	"strings"
	"testing"
)

// FuzzDecodeReplies feeds the order system's replies (an order, a list,
// an action's outcome) with arbitrary bytes: the decoders never panic,
// never return another customer's order, keep lists bounded, and keep an
// outcome's text to one bounded line.
func FuzzDecodeReplies(f *testing.F) {
	for _, seed := range []string{
		`{"order_id": "W1", "customer_id": "C1", "status": "shipped", "items": [{"name": "Kettle", "qty": 1}]}`,
		`{"orders": [{"order_id": "W1", "customer_id": "C1"}, {"order_id": "W2", "customer_id": "C2"}, 7, null]}`,
		`[{"customer_id": "C1", "total": 1e400}]`,
		`{"status": "done", "reference": "R-1", "message": "ok"}`,
		`{"status": "rejected", "message": "` + strings.Repeat("x", 400) + `"}`,
		`{"status": {"nested": true}}`, `[]`, `null`, `"C1"`, ``, `{`, "\xff\xfe",
	} {
		f.Add([]byte(seed), 200)
		f.Add([]byte(seed), 409)
	}
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		if rec, ok, err := DecodeOrder(body, "C1", "W1"); ok {
			if err != nil || scalar(rec["customer_id"]) != "C1" {
				t.Fatalf("order of %q accepted for C1", scalar(rec["customer_id"]))
			}
			_ = Render(rec)
		}
		if recs, err := DecodeList(body, "C1"); err == nil {
			if len(recs) > MaxListed {
				t.Fatalf("%d orders kept", len(recs))
			}
			for _, r := range recs {
				if scalar(r["customer_id"]) != "C1" {
					t.Fatalf("list kept %q's order", scalar(r["customer_id"]))
				}
			}
		}
		if status < 100 || status >= 500 {
			status = 200
		}
		out, err := DecodeOutcome(status, body)
		if err == nil {
			if len(out.Message) > maxReplyText+4 || len(out.Reference) > maxReplyText+4 || strings.ContainsAny(out.Message+out.Reference, "\n\r") {
				t.Fatalf("outcome text not one bounded line: %q %q", out.Message, out.Reference)
			}
			if status >= 300 && out.Done {
				t.Fatalf("status %d read as done", status)
			}
		}
	})
}
