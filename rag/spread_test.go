package rag

import (
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
)

func TestSpreadCoversMoreDocumentsForASituation(t *testing.T) {
	hit := func(doc string, n int) kefu.Hit {
		return kefu.Hit{Chunk: kefu.Chunk{ID: doc + "#" + string(rune('0'+n)), DocID: doc}}
	}
	hits := []kefu.Hit{hit("cards", 0), hit("cards", 1), hit("fees", 0), hit("cards", 2), hit("travel", 0)}
	ids := func(hs []kefu.Hit) string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Chunk.ID)
		}
		return strings.Join(out, " ")
	}

	situation := "I earn a good salary every year. My company pays for my travel. I want the card with the most cash back for groceries."
	if got, want := ids(spread(situation, hits)), "cards#0 fees#0 travel#0 cards#1 cards#2"; got != want {
		t.Errorf("situation: spread = %s, want %s", got, want)
	}
	for _, q := range []string{
		"Which card gives the most cash back?",
		"Hi, I bought a lamp last week. How long do I have to return it?",
		"已经发货的订单能退款吗？",
	} {
		if got, want := ids(spread(q, hits)), ids(hits); got != want {
			t.Errorf("question %q: spread = %s, want the order unchanged", q, got)
		}
	}
}
