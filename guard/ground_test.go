package guard

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

func TestUngrounded(t *testing.T) {
	sources := []string{
		"You can return most items within 30 days of delivery. Refunds to Alipay take 1-3 business days.",
		"Name: Lumi Kettle\nPrice: 1,299.00\nTracking number: SF1420576381945\nEstimated delivery: 2026-11-20",
	}
	if got := Ungrounded("Returns are accepted within 30 days [1]; the kettle costs ¥1,299 and arrives 2026-11-20 (SF1420576381945). [2]", sources); got != nil {
		t.Errorf("grounded answer flagged: %q", got)
	}
	got := Ungrounded("You get a 100% refund within 45 days, and order W261118-9999 ships at 16:00.", sources)
	want := []string{"100%", "45 days", "W261118-9999", "16:00"}
	if !slices.Equal(got, want) {
		t.Errorf("Ungrounded = %q, want %q", got, want)
	}
	// A number that ends at a comma is that number, in the answer as in
	// its source, whatever follows the comma.
	for _, a := range []string{"0000-00,000", "sizes 38-40,42 and 44", "0:000", "open 9:30 to 17:00, 2026-11-200", "0[0]0", "¥599[1] within 30[2] days", "0:000:0000", "0 00"} {
		if got := Ungrounded(a, []string{a}); got != nil {
			t.Errorf("%q is ungrounded in itself: %q", a, got)
		}
	}
	// Thousands separators still join: ¥1299 is the source's 1,299, and
	// 299 is not.
	if got := Ungrounded("It costs ¥1299, not 299.", sources); !slices.Equal(got, []string{"299"}) {
		t.Errorf("Ungrounded = %q, want [299]", got)
	}
}

func TestRedactingHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewRedactingHandler(slog.NewTextHandler(&buf, nil)))
	log = log.With("customer_phone", "13812345678")
	log.Info("shopper wrote li@example.com", "err", errors.New("lookup 4111 1111 1111 1111 failed"), slog.Group("req", "addr", "221B Baker Street"), "order", "W261118-1004")
	out := buf.String()
	for _, secret := range []string{"13812345678", "li@example.com", "4111 1111", "Baker Street"} {
		if strings.Contains(out, secret) {
			t.Errorf("log line holds %q: %s", secret, out)
		}
	}
	if !strings.Contains(out, "W261118-1004") || !strings.Contains(out, "[phone]") {
		t.Errorf("log line lost ordinary data: %s", out)
	}
}

func TestPromises(t *testing.T) {
	src := []string{"Faulty items get a full refund within 15 days."}
	if got := Promises("Faulty items get a full refund. [1]", src); got != nil {
		t.Errorf("a promise the source makes was flagged: %q", got)
	}
	if got := Promises("We guarantee you'll get compensation, 我们保证赔偿。", src); len(got) != 5 {
		t.Errorf("Promises = %q, want guarantee, you'll get, compensat, 保证, 赔偿", got)
	}
}

func TestUngroundedRangesAndDurations(t *testing.T) {
	src := []string{"UnionPay and bank cards: 3-5 business days. Alipay: 1-3 business days. Report damage within 7 days."}
	if got := Ungrounded("UnionPay refunds take 3-5 business days; report damage within 7 days. [1]", src); got != nil {
		t.Errorf("grounded ranges flagged: %q", got)
	}
	if got := Ungrounded("Refunds to UnionPay take 7-9 business days.", src); len(got) == 0 {
		t.Error("an invented range passed")
	}
	if got := Ungrounded("Report damage within 2 days.", src); len(got) == 0 {
		t.Error("an invented one-digit duration passed")
	}
}

// FuzzUngrounded checks the fact gate on any answer and sources: no panic,
// an answer is always grounded in itself, and every fact it reports
// missing comes from the answer.
func FuzzUngrounded(f *testing.F) {
	f.Add("Returns within 30 days, refund ¥599 [1].", "Returns are accepted within 30 days. Price ¥599.")
	f.Add("送达时间3-5个工作日，运费10元。", "配送3-5个工作日")
	f.Add("Order W260912-1001 ships 2026-11-20 at 10:30.", "")
	f.Add("We guarantee a full refund.", "no promises")
	f.Add("0000-00,000", "")
	f.Add("0:000", "0")
	f.Add("0[0]0", "")
	f.Add("0:000:0000", "0")
	f.Add("0 00", "0")
	f.Add("0 ,000", "")
	f.Fuzz(func(t *testing.T, answer, source string) {
		if got := Ungrounded(answer, []string{answer}); len(got) != 0 {
			t.Fatalf("an answer is ungrounded in itself: %q -> %q", answer, got)
		}
		if got := Promises(answer, []string{answer}); len(got) != 0 {
			t.Fatalf("an answer's promises are missing from itself: %q -> %q", answer, got)
		}
		for _, fact := range Ungrounded(answer, []string{source}) {
			if !strings.Contains(norm.NFKC.String(answer), fact) {
				t.Fatalf("fact %q is not in the answer %q", fact, answer)
			}
		}
		_ = Promises(answer, []string{source})
	})
}
