package main

import (
	"math"
	"strings"
	"testing"

	"github.com/kefuhq/kefu/rerank"
)

func TestAnswerBar(t *testing.T) {
	pos := []float64{0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 0.6, 0.4, 0.2, 0.95}
	bar := answerBar(pos, 0.9)
	if got := share(pos, bar, true); got < 0.9 {
		t.Fatalf("bar %v lets %v through, want at least 0.9", bar, got)
	}
	if bar != 0.2 {
		t.Fatalf("bar %v, want the highest that keeps 90%% (0.2)", bar)
	}
	if answerBar(nil, 0.9) != 0 {
		t.Fatal("no answerable questions should give no bar")
	}
	if got := share([]float64{0.1, 0.5}, 0.3, false); math.Abs(got-0.5) > 1e-9 {
		t.Fatalf("share below = %v", got)
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	if err := run(nil, nil); err == nil {
		t.Fatal("ran without a --set")
	}
	if err := run([]string{"--set", "no-equals-sign"}, nil); err == nil {
		t.Fatal("accepted a set without DATADIR=GOLDEN")
	}
}

func TestSameModelAllowsRoundingOnly(t *testing.T) {
	m, err := rerank.Local()
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	moved, err := rerank.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	moved.Weights[2] += weightTolerance / 10 // another machine's last digits
	if err := sameModel(m, moved); err != nil {
		t.Fatalf("rounding counted as a different fit: %v", err)
	}
	moved.Weights[2] += 10 * weightTolerance
	moved.AnswerBar += 10 * barTolerance
	err = sameModel(m, moved)
	if err == nil || !strings.Contains(err.Error(), "weight of "+m.Features[2]) || !strings.Contains(err.Error(), "answer_bar") {
		t.Fatalf("sameModel = %v, want the moved weight and bar named", err)
	}
}

func TestStrongBar(t *testing.T) {
	var neg []float64
	for i := range 100 {
		neg = append(neg, float64(i)/100) // 0.00 .. 0.99
	}
	bar := strongBar(neg, 0.01)
	if got := share(neg, bar, true); got > 0.01 {
		t.Fatalf("bar %v lets %v of the negatives reach it, want at most 0.01", bar, got)
	}
	if bar > 0.9901 {
		t.Fatalf("bar %v is higher than it needs to be", bar)
	}
	if strongBar(nil, 0.01) != 1 {
		t.Fatal("without negatives nothing should be strong")
	}
}
