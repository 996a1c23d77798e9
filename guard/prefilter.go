package guard

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Regexp is a regular expression with a literal prefilter. Most of the
// guard's patterns are long alternations of words and phrases, which Go's
// regexp tries at every position of the text; but every match of such a
// pattern contains one of a few literal strings, and strings.Contains
// finds those far faster. MatchString looks for them first and runs the
// expression only when one is there, so it answers exactly as
// regexp.Regexp.MatchString does, only sooner. The other methods are
// regexp.Regexp's own.
type Regexp struct {
	*regexp.Regexp
	lits []string // every match contains one; nil: no prefilter
	fold bool     // lits are lower-case ASCII, to be found in the text folded by asciiLower
}

// MustCompile compiles expr like regexp.MustCompile, and works out its
// prefilter.
func MustCompile(expr string) *Regexp {
	re := &Regexp{Regexp: regexp.MustCompile(expr)}
	parsed, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return re // regexp.MustCompile accepted it; keep it without a prefilter
	}
	if f, ok := necessary(parsed.Simplify()); ok && f.usable() {
		re.lits, re.fold = f.lits, f.fold
	}
	return re
}

// MatchString reports whether s contains a match of the expression.
func (re *Regexp) MatchString(s string) bool {
	return re.MayMatch(s) && re.Regexp.MatchString(s)
}

// MayMatch reports false only when s holds no match: none of the strings
// every match contains is in s.
func (re *Regexp) MayMatch(s string) bool {
	if re.lits == nil {
		return true
	}
	if re.fold {
		s = asciiLower(s)
	}
	for _, lit := range re.lits {
		if strings.Contains(s, lit) {
			return true
		}
	}
	return false
}

// factors is a set of strings one of which every match contains.
type factors struct {
	lits []string
	fold bool
}

// usable reports whether the set is worth checking and sound: strings of
// two bytes or more, not too many, and no U+FFFD (which the matcher also
// finds in place of invalid UTF-8).
func (f factors) usable() bool {
	if len(f.lits) == 0 || len(f.lits) > 64 {
		return false
	}
	for _, l := range f.lits {
		if len(l) < 2 || strings.ContainsRune(l, utf8.RuneError) {
			return false
		}
	}
	return true
}

func (f factors) minLen() int {
	n := -1
	for _, l := range f.lits {
		if n < 0 || len(l) < n {
			n = len(l)
		}
	}
	return n
}

// necessary works out, for a simplified expression, strings one of which
// every match contains. ok is false when there are none to be had (the
// expression can match without any literal, or folds the case of a
// letter beyond ASCII; caseless letters such as Chinese ones are fine).
func necessary(re *syntax.Regexp) (factors, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		s := string(re.Rune)
		if re.Flags&syntax.FoldCase == 0 {
			return factors{lits: []string{s}}, true
		}
		for _, r := range re.Rune {
			if r >= utf8.RuneSelf && unicode.SimpleFold(r) != r {
				return factors{}, false // Unicode case folding: not worth modelling
			}
		}
		return factors{lits: []string{asciiLower(s)}, fold: true}, true
	case syntax.OpCapture:
		return necessary(re.Sub[0])
	case syntax.OpPlus:
		return necessary(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return necessary(re.Sub[0])
		}
	case syntax.OpConcat:
		// Every part of a concatenation is in every match; take the part
		// whose strings are longest.
		var best factors
		found := false
		for _, sub := range re.Sub {
			f, ok := necessary(sub)
			if !ok || !f.usable() {
				continue
			}
			if !found || f.minLen() > best.minLen() || f.minLen() == best.minLen() && len(f.lits) < len(best.lits) {
				best, found = f, true
			}
		}
		return best, found
	case syntax.OpAlternate:
		// A match is a match of one branch: the union of the branches'.
		var all factors
		for _, sub := range re.Sub {
			f, ok := necessary(sub)
			if !ok {
				return factors{}, false
			}
			all.lits = append(all.lits, f.lits...)
			all.fold = all.fold || f.fold
		}
		if all.fold {
			for i, l := range all.lits {
				all.lits[i] = asciiLower(l) // a folded branch is looked for in folded text
			}
		}
		return all, true
	}
	return factors{}, false
}

// asciiLower lowers ASCII letters, and maps the two non-ASCII letters that
// case-fold to ASCII ones (U+212A KELVIN SIGN to k, U+017F LONG S to s), so
// that text matching an ASCII literal case-insensitively contains it in
// lower case.
func asciiLower(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case 'A' <= r && r <= 'Z':
			return r + 'a' - 'A'
		case r == '\u212a':
			return 'k'
		case r == '\u017f':
			return 's'
		}
		return r
	}, s)
}
