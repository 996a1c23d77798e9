package tokens

import (
	"strings"
	"testing"
)

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"", 0},
		{"hello world", 2},
		{"You can return most items within 30 days of delivery.", 12},
	} {
		got, err := Count(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Count(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	// A long run with nowhere to cut is still counted, close to exactly.
	run := strings.Repeat("退货", 5000)
	enc, _ := Encoding()
	got, _ := Count(run)
	if exact := len(enc.EncodeOrdinary(run[:3000])) * len(run) / 3000; got < exact*9/10 || got > exact*11/10 {
		t.Errorf("Count of a long run = %d, about %d expected", got, exact)
	}
}
