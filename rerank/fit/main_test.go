package main

import (
	"math"
	"testing"
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
