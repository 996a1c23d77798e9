package llm

import (
	"context"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
)

func hit(typ, title, text string) kefu.Hit {
	return kefu.Hit{Chunk: kefu.Chunk{ID: title + "#0", DocID: title, Type: typ, Title: title, Text: text}}
}

func answer(t *testing.T, req kefu.GenerateRequest) string {
	t.Helper()
	var b strings.Builder
	for piece, err := range (Extractive{}).Generate(context.Background(), req) {
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(piece)
	}
	return b.String()
}

func TestExtractiveQuotesTheBestSentence(t *testing.T) {
	ctx := []kefu.Hit{
		hit(kefu.TypePolicy, "Returns", "## Return window\nYou can return most items within 30 days of delivery. The 30 days start on the day the parcel is delivered. Gift cards cannot be returned."),
		hit(kefu.TypePolicy, "Shipping", "Orders over ¥99 ship free. Remote areas take longer."),
	}
	got := answer(t, kefu.GenerateRequest{Question: "how many days do I have to return an item", Locale: "en", Context: ctx})
	if !strings.Contains(got, "within 30 days of delivery") || !strings.HasSuffix(got, "[1]") {
		t.Fatalf("answer %q does not quote the return window with [1]", got)
	}
	if strings.Contains(got, "ship free") || strings.Contains(got, "Gift cards") {
		t.Fatalf("answer %q quotes unrelated sentences", got)
	}
}

func TestExtractiveChinese(t *testing.T) {
	ctx := []kefu.Hit{hit(kefu.TypePolicy, "退货政策", "## 退款时效\n退款审核通过后，支付宝和微信支付3-5个工作日到账。银行卡退款需要7-10个工作日。\n## 运费\n质量问题的退货运费由我们承担。")}
	got := answer(t, kefu.GenerateRequest{Question: "退款几天到账", Locale: "zh", Context: ctx})
	if !strings.Contains(got, "3-5个工作日到账") || !strings.Contains(got, "[1]") {
		t.Fatalf("answer %q", got)
	}
}

func TestExtractiveRecordLines(t *testing.T) {
	ctx := []kefu.Hit{hit(kefu.TypeProduct, "Lumi AirBeat Pro", "Name: Lumi AirBeat Pro Wireless Earbuds\nSku: LM-HP-001\nPrice: 599\nStock: 120\nBattery life: 8 h")}
	got := answer(t, kefu.GenerateRequest{Question: "how much are the airbeat pro", Query: "how much are the airbeat pro price 价格", Locale: "en", Context: ctx})
	if !strings.Contains(got, "Price: 599") || !strings.Contains(got, "AirBeat Pro Wireless Earbuds") {
		t.Fatalf("answer %q lacks the name or price line", got)
	}
	if strings.Contains(got, "Battery") {
		t.Fatalf("answer %q quotes an unasked attribute", got)
	}
}

func TestExtractiveStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := kefu.GenerateRequest{Question: "return", Context: []kefu.Hit{hit(kefu.TypePolicy, "R", "Return within 30 days. Return is free.")}}
	for _, err := range (Extractive{}).Generate(ctx, req) {
		if err == nil {
			t.Fatal("yielded text after cancel")
		}
		return
	}
	t.Fatal("no error after cancel")
}

func TestOneEdit(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"retrun", "return", true}, {"refnud", "refund", true}, {"warrenty", "warranty", true},
		{"shiping", "shipping", true}, {"shippping", "shipping", true}, {"return", "return", false},
		{"return", "refund", false}, {"ab", "abcd", false},
	} {
		if got := oneEdit(tc.a, tc.b); got != tc.want {
			t.Errorf("oneEdit(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
