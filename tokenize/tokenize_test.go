package tokenize

import (
	"slices"
	"testing"
)

func TestTerms(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Returns are FREE!", []string{"return", "free"}},
		{"shipping shipped ships", []string{"ship", "ship", "ship"}},
		{"Order W240315-1001", []string{"order", "w240315-1001", "w240315", "1001"}},
		{"手环", []string{"手", "手环", "环"}},
		{"鹿米 手环 6", []string{"鹿", "鹿米", "米", "手", "手环", "环", "6"}},
		{"退货的", []string{"退", "退货", "货", "货的"}},
		{"ＡＢＣ１２３", []string{"abc123"}},
		{"don't it's", []string{"don"}},
	} {
		got := Terms(tc.in)
		if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("Terms(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	if got := Normalize("  Ｈｅｌｌｏ\t\nWORLD  "); got != "hello world" {
		t.Errorf("Normalize = %q", got)
	}
}

func FuzzTokens(f *testing.F) {
	for _, s := range []string{"", "退货 return W1-2", "a-b.c_d'e", "\xff\xfe", "。！？"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range Tokens(s) {
			if tok.Text == "" {
				t.Fatalf("empty token from %q", s)
			}
		}
	})
}
