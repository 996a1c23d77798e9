package main

import "testing"

func TestAUC(t *testing.T) {
	for _, c := range []struct {
		pos, neg []float64
		want     float64
	}{
		{[]float64{0.9, 0.8}, []float64{0.1, 0.2}, 1},
		{[]float64{0.1}, []float64{0.5, 0.6}, 0},
		{[]float64{0.5}, []float64{0.5}, 0.5},
		{[]float64{0.3, 0.7}, []float64{0.5}, 0.5},
		{nil, []float64{1}, 0.5},
	} {
		if got := AUC(c.pos, c.neg); got != c.want {
			t.Errorf("AUC(%v, %v) = %v, want %v", c.pos, c.neg, got, c.want)
		}
	}
}

func TestMedian(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median = %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median = %v", m)
	}
}
