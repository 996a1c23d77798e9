package kefu

import "testing"

func TestDay(t *testing.T) {
	for in, want := range map[string]string{
		"2026-03-01": "2026-03-01", "2026/3/1": "2026-03-01", "2026-03-01T08:00:00Z": "2026-03-01",
		"2026-03-01 00:00:00 +0000 UTC": "2026-03-01", " 2026.12.31 ": "2026-12-31",
		"2026-02-30": "", "March 1": "", "": "", "20260301": "", "2026-03-01x": "",
	} {
		if got := Day(in); got != want {
			t.Errorf("Day(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFilterAllows(t *testing.T) {
	old := &Chunk{Type: TypePolicy, Meta: map[string]string{MetaEffectiveFrom: "2025-01-01", MetaEffectiveTo: "2026-02-28"}}
	cur := &Chunk{Type: TypePolicy, Meta: map[string]string{MetaEffectiveFrom: "2026-03-01"}}
	undated := &Chunk{Type: TypePolicy}
	mine := &Chunk{Type: TypeOrder, CustomerID: "C1"}
	for _, tc := range []struct {
		name string
		f    Filter
		c    *Chunk
		want bool
	}{
		{"no date rule keeps every version", Filter{}, old, true},
		{"old version before its end", Filter{At: "2026-02-28"}, old, true},
		{"old version after its end", Filter{At: "2026-03-01"}, old, false},
		{"new version before its start", Filter{At: "2026-02-28"}, cur, false},
		{"new version from its start", Filter{At: "2026-03-01"}, cur, true},
		{"undated chunk is always in force", Filter{At: "1999-01-01"}, undated, true},
		{"anonymous never sees an order", Filter{}, mine, false},
		{"another shopper never sees it", Filter{CustomerID: "C2"}, mine, false},
		{"its owner does", Filter{CustomerID: "C1"}, mine, true},
		{"OnlyCustomer drops public chunks", Filter{CustomerID: "C1", OnlyCustomer: true}, undated, false},
		{"type filter", Filter{Types: []string{TypeFAQ}}, undated, false},
	} {
		if got := tc.f.Allows(tc.c); got != tc.want {
			t.Errorf("%s: Allows = %v", tc.name, got)
		}
	}
}
