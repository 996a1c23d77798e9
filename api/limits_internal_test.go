package api

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSameQuestion(t *testing.T) {
	for _, pair := range [][2]string{
		{"Human, please!", "human please"},
		{"HUMAN   please", "human please"},
		{"我要人工客服！", "我要人工客服"},
		{"ＷＨＥＲＥ is my order?", "where is my order"},
	} {
		if got, want := sameQuestion(pair[0]), sameQuestion(pair[1]); got != want {
			t.Errorf("sameQuestion(%q) = %q, want %q", pair[0], got, want)
		}
	}
	if sameQuestion("refund order 1") == sameQuestion("refund order 2") {
		t.Error("different orders read as the same question")
	}
}

func TestTicketGateBounded(t *testing.T) {
	g := newTicketGate(2, 50)
	now := time.Now()
	for i := range 1000 {
		g.admit(strings.Repeat("x", i%7)+string(rune('a'+i%26))+time.Duration(i).String(), "q", now)
	}
	if n := len(g.m); n > 51 {
		t.Fatalf("%d owners tracked, bound is 50 (+1 overflow)", n)
	}
}

func FuzzSameQuestion(f *testing.F) {
	for _, s := range []string{"", "Human, please!", "我要人工客服", strings.Repeat("é", 400), "a\x00b\xffc", "00\xf2ͺ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := sameQuestion(s)
		if len(q) > maxQuestionKey || !utf8.ValidString(q) {
			t.Fatalf("sameQuestion(%q) = %q: %d bytes, valid UTF-8 %v", s, q, len(q), utf8.ValidString(q))
		}
		if again := sameQuestion(q); again != q {
			t.Fatalf("not idempotent: %q then %q", q, again)
		}
	})
}
