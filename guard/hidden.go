package guard

import (
	"regexp"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Hidden returns the readings of text that a reader does not see at once
// but a language model may follow, each folded (see Fold): base64 and hex
// runs that decode to words, Unicode tag characters, \u and HTML escapes,
// letters spelled out with separators ("i-g-n-o-r-e", "ign + ore"), the
// text written backwards, and its ROT13. A reading that is the folded text
// itself is left out; so is one with nothing to read. The checks look for
// an instruction in each; a reading alone proves nothing (ROT13 of any
// message is a reading).
func Hidden(text string) []string {
	folded := Fold(text)
	var out []string
	add := func(s string) {
		if s != "" && s != folded && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, d := range decodedRuns(text) {
		add(d)
	}
	if hidden := tagText(text); hidden != "" {
		add(Fold(hidden))
	}
	if unescaped := unescapeRuns(text); unescaped != "" {
		add(Fold(unescaped))
	}
	add(spelledOut(text))
	if hasLatin(folded) {
		add(reversed(folded))
		add(rot13(folded))
	}
	return out
}

// gibberish reports whether reading is the reversed or ROT13 reading of
// folded and does not read as English. Every Latin message has those two
// readings, and running the rules over their gibberish would triple the
// rules' cost; a rule cannot match a reading without one of commonWords.
func gibberish(reading, folded string) bool {
	return (reading == reversed(folded) || reading == rot13(folded)) && !readsAsEnglish(reading)
}

// commonWords are English words that nearly every sentence has, and the
// words an instruction to the assistant is made of; the reversed or ROT13
// reading of an ordinary message rarely holds one, and a rule cannot match
// a reading without one.
var commonWords = map[string]bool{"the": true, "you": true, "your": true, "and": true, "all": true, "me": true,
	"my": true, "to": true, "of": true, "is": true, "this": true, "now": true, "what": true, "are": true,
	"ignore": true, "disregard": true, "forget": true, "bypass": true, "override": true, "instructions": true,
	"prompt": true, "rules": true, "system": true, "reveal": true, "print": true, "show": true, "pretend": true}

func readsAsEnglish(s string) bool {
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r < 'a' || r > 'z' }) {
		if commonWords[w] {
			return true
		}
	}
	return false
}

var (
	// spelled is a run of single letters joined by one separator each:
	// "i-g-n-o-r-e", "i.g.n.o.r.e", "i g n o r e" (words of such a run are
	// told apart by a longer gap).
	spelled = regexp.MustCompile(`(?:\b\pL[ \-._*·/|]){2,}\pL\b`)
	// pieces are fragments of a word joined by plus signs ("ign + ore").
	pieces = regexp.MustCompile(`(\pL+)\s*\+\s*(\pL+)`)
)

// spelledOut rejoins letters spelled out one by one and words cut into
// pieces, or returns "" when text has neither.
func spelledOut(text string) string {
	s := strings.ToLower(norm.NFKC.String(text))
	hasPieces := strings.ContainsRune(s, '+') && pieces.MatchString(s)
	if !hasPieces && !(mayBeSpelled(s) && spelled.MatchString(s)) {
		return ""
	}
	s = spelled.ReplaceAllStringFunc(s, func(run string) string {
		var b strings.Builder
		for _, r := range run {
			if unicode.IsLetter(r) {
				b.WriteRune(r)
			}
		}
		return b.String()
	})
	for pieces.MatchString(s) {
		s = pieces.ReplaceAllString(s, "$1$2")
	}
	return Fold(s)
}

// mayBeSpelled is a quick test for spelled: three letters in a row that
// each stand alone between separators.
func mayBeSpelled(s string) bool {
	run := 0
	prev := ' '
	rs := []rune(s)
	for i, r := range rs {
		next := ' '
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		if unicode.IsLetter(r) && !unicode.IsLetter(prev) && !unicode.IsLetter(next) {
			run++
			if run >= 3 {
				return true
			}
		} else if unicode.IsLetter(r) {
			run = 0
		}
		prev = r
	}
	return false
}

func hasLatin(s string) bool {
	n := 0
	for _, r := range s {
		if r >= 'a' && r <= 'z' {
			n++
		}
	}
	return n >= 8
}

// reversed is s backwards, rune by rune: text written right to left, or
// shown reversed by a bidi override that Fold removes.
func reversed(s string) string {
	rs := []rune(s)
	slices.Reverse(rs)
	return string(rs)
}

func rot13(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		}
		return r
	}, s)
}
