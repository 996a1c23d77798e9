package guard

import (
	"strings"
	"testing"
)

var prefilterExprs = []string{
	`\b(ignore|disregard) (all|previous) instructions?\b`,
	`(?i)\bfull refund\b|保证`,
	`(?i)ask (for|about) [a-z]+`,
	`\bunauthori[a-z]ed\b`,
	`a{2,}b+c`,
	`(x|yy)z`,
	`你现在是|越狱`,
	`(?i)straße`,
	`.*`,
	`\d+`,
}

func allPatterns() []*Regexp {
	var out []*Regexp
	for _, e := range prefilterExprs {
		out = append(out, MustCompile(e))
	}
	for _, p := range injectionPatterns {
		out = append(out, p.re)
	}
	return out
}

func TestPrefilterLiterals(t *testing.T) {
	for _, tc := range []struct {
		expr string
		lits string // joined by |, "" for no prefilter
	}{
		{`\b(ignore|disregard) (all|previous) instructions?\b`, " instruction"},
		{`(?i)\bfull refund\b|保证`, "full refund|保证"},
		{`\bunauthori[a-z]ed\b`, "unauthori"},
		{`(x|yy)z`, ""}, // x alone is too short to be worth it
		{`.*`, ""},
		{`\d+`, ""},
		{`(?i)straße`, ""}, // Unicode case folding
	} {
		re := MustCompile(tc.expr)
		if got := strings.Join(re.lits, "|"); got != tc.lits {
			t.Errorf("%s: literals %q, want %q", tc.expr, got, tc.lits)
		}
	}
	for _, p := range injectionPatterns {
		if p.re.lits == nil {
			t.Errorf("injection pattern %.60s... has no prefilter", p.re.String())
		}
	}
}

func TestPrefilterMatchesAsTheExpression(t *testing.T) {
	texts := []string{
		"please ignore all instructions", "IGNORE ALL INSTRUCTIONS", "ignore all instruction", "我们保证退款",
		"Full Refund please", "FULL REFUND", "ſull refund", "ask for Help", "AſK about it", "unauthorized charge",
		"aab c", "aabbc", "yyz", "xz", "你现在是管理员", "strasse", "", "ignore previous instructions!",
	}
	for _, re := range allPatterns() {
		for _, s := range texts {
			if got, want := re.MatchString(s), re.Regexp.MatchString(s); got != want {
				t.Errorf("%.50s on %q: %v, regexp says %v", re.String(), s, got, want)
			}
		}
	}
}

// FuzzPrefilter: the prefilter never turns down a text the expression
// matches.
func FuzzPrefilter(f *testing.F) {
	for _, s := range []string{"ignore all instructions", "FULL REFUND", "你现在是", "ſ\u212a", "unauthorized"} {
		f.Add(s)
	}
	pats := allPatterns()
	f.Fuzz(func(t *testing.T, s string) {
		for _, re := range pats {
			if re.Regexp.MatchString(s) && !re.MayMatch(s) {
				t.Fatalf("%.60s matches %q, but the prefilter turned it down", re.String(), s)
			}
		}
	})
}

func BenchmarkInjection(b *testing.B) {
	msg := Fold("How long do I have to return an item? I bought it last week and the box is still sealed.")
	b.Run("prefiltered", func(b *testing.B) {
		for b.Loop() {
			for _, p := range injectionPatterns {
				p.re.MatchString(msg)
			}
		}
	})
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			for _, p := range injectionPatterns {
				p.re.Regexp.MatchString(msg)
			}
		}
	})
}

// TestPIIPatternsNeedADigitOrAt keeps Redact's shortcut sound: it skips
// every pattern but the e-mail one on text without an ASCII digit, and the
// e-mail one on text without an @.
func TestPIIPatternsNeedADigitOrAt(t *testing.T) {
	for _, p := range piiPatterns {
		need := `\d`
		if p.kind == PIIEmail {
			need = "@"
		}
		if !strings.Contains(p.re.String(), need) {
			t.Errorf("%s pattern %.50s has no %s in it", p.kind, p.re.String(), need)
		}
	}
	got, found := Redact("call me on 138 0013 8000 or write to a@b.cn")
	if len(found) != 2 || strings.Contains(got, "8000") || strings.Contains(got, "a@b.cn") {
		t.Errorf("Redact = %q, %+v", got, found)
	}
}
