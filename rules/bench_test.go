package rules_test

import (
	"os"
	"testing"
	"time"

	"github.com/kefuhq/kefu/rules"
)

func BenchmarkParseDemo(b *testing.B) {
	data, err := os.ReadFile("../examples/demo-shop/rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := rules.Parse("rules.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	data, err := os.ReadFile("../examples/demo-shop/rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	book, err := rules.Parse("rules.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	f, err := book.FactsText("Order id: W1\nStatus: delivered\nPlaced at: 2026-11-11\nDelivered at: 2026-11-13\nItems:\n- 1 x Vacuum (LM-VC-001), 2499.00\n")
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		book.Check(f, rules.Return, now)
	}
}
