package guard

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// homoglyphs maps letters of other scripts that look like Latin letters to
// those letters, so "ignоre" with a Cyrillic о reads as "ignore".
var homoglyphs = map[rune]rune{
	'а': 'a', 'е': 'e', 'о': 'o', 'р': 'p', 'с': 'c', 'у': 'y', 'х': 'x', 'і': 'i', 'ј': 'j', 'ѕ': 's', 'ԁ': 'd', 'һ': 'h', 'ӏ': 'l', 'ԛ': 'q', 'ԝ': 'w',
	'А': 'a', 'В': 'b', 'Е': 'e', 'К': 'k', 'М': 'm', 'Н': 'h', 'О': 'o', 'Р': 'p', 'С': 'c', 'Т': 't', 'Х': 'x', 'І': 'i', 'Ј': 'j', 'Ѕ': 's',
	'α': 'a', 'ο': 'o', 'ρ': 'p', 'ν': 'v', 'ι': 'i', 'κ': 'k', 'τ': 't', 'υ': 'u', 'ε': 'e',
	'Α': 'a', 'Β': 'b', 'Ε': 'e', 'Ζ': 'z', 'Η': 'h', 'Ι': 'i', 'Κ': 'k', 'Μ': 'm', 'Ν': 'n', 'Ο': 'o', 'Ρ': 'p', 'Τ': 't', 'Υ': 'y', 'Χ': 'x',
	'ı': 'i', 'ℓ': 'l',
}

// leet maps digits and symbols used as letters ("1gn0r3") back to letters.
// It is applied only inside words that also contain letters, so prices
// and order numbers stay as they are.
var leet = map[rune]rune{'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's'}

// Fold returns text as the checks should see it: NFKC (full-width letters
// become ASCII), lower case, invisible format characters (zero-width space
// and joiner, bidi controls, soft hyphen) removed, homoglyphs mapped to
// Latin, leet-speak undone inside words, letters spaced out one by one
// ("i g n o r e") joined, and runs of white space collapsed. It is for
// detection only; what a shopper sees is never folded.
func Fold(text string) string {
	text = norm.NFKC.String(text)
	var b strings.Builder
	b.Grow(len(text))
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Cf, r) || r == '\u00ad' || unicode.Is(unicode.Mn, r) && r < 0x0370:
			continue
		case unicode.IsSpace(r):
			b.WriteByte(' ')
			continue
		}
		if g, ok := homoglyphs[r]; ok {
			r = g
		}
		b.WriteRune(unicode.ToLower(r))
	}
	words := strings.Fields(b.String())
	for i, w := range words {
		words[i] = unleet(w)
	}
	return strings.Join(joinSpaced(words), " ")
}

// unleet undoes leet-speak in a word that mixes letters with leet digits
// or symbols ("1gn0r3" -> "ignore"); all-digit words are left alone.
func unleet(w string) string {
	letters, leets := 0, 0
	for _, r := range w {
		switch {
		case r > unicode.MaxASCII:
			return w // Chinese text and other scripts keep their digits
		case unicode.IsLetter(r):
			letters++
		case leet[r] != 0:
			leets++
		}
	}
	if letters == 0 || leets == 0 || letters < 2 {
		return w
	}
	var b strings.Builder
	for i, r := range w {
		// A trailing "$" is currency, not a letter.
		if l, ok := leet[r]; ok && !(i == len(w)-1 && r == '$') {
			b.WriteRune(l)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// joinSpaced joins runs of three or more single-letter words ("i g n o r e")
// into one word.
func joinSpaced(words []string) []string {
	out := make([]string, 0, len(words))
	for i := 0; i < len(words); {
		j := i
		for j < len(words) && isSingleLetter(words[j]) {
			j++
		}
		if j-i >= 3 {
			out = append(out, strings.Join(words[i:j], ""))
			i = j
			continue
		}
		out = append(out, words[i])
		i++
	}
	return out
}

func isSingleLetter(w string) bool {
	rs := []rune(w)
	return len(rs) == 1 && unicode.IsLetter(rs[0]) && rs[0] < 0x3000
}
