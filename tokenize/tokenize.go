package tokenize

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalize applies Unicode NFKC, lower-cases and collapses runs of white
// space into one space, trimming both ends. Full-width letters and digits
// become their ASCII forms. Evidence matching in eval uses it too.
func Normalize(s string) string {
	s = norm.NFKC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// IsCJK reports whether r is a Han, Hiragana, Katakana or Hangul character,
// the scripts written without spaces between words.
func IsCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

// Token is one term with the kind of unit it came from.
type Token struct {
	Text string
	Kind Kind
}

// Kind tells what unit a token is.
type Kind uint8

const (
	Word    Kind = iota // a Latin-script or numeric word, stemmed
	Bigram              // two adjacent CJK characters
	Unigram             // one CJK character
)

// Tokens splits normalised text into tokens, in text order. Latin words are
// lower-cased and lightly stemmed, stop words dropped; a word with inner
// hyphens or dots (an order id, "5.3") is kept whole and also split into its
// parts. Each run of CJK characters yields its bigrams, plus unigrams for
// characters that are not function words. Text need not be normalised first.
func Tokens(text string) []Token {
	text = Normalize(text)
	toks := make([]Token, 0, len(text)/3)
	i := 0
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case IsCJK(r):
			j := i
			var run []rune
			for j < len(text) {
				r2, s2 := utf8.DecodeRuneInString(text[j:])
				if !IsCJK(r2) {
					break
				}
				run = append(run, r2)
				j += s2
			}
			toks = appendCJK(toks, run)
			i = j
		case isWordRune(r):
			j := i
			for j < len(text) {
				r2, s2 := utf8.DecodeRuneInString(text[j:])
				if isWordRune(r2) || (isJoiner(r2) && j+s2 < len(text) && nextIsWord(text[j+s2:])) {
					j += s2
					continue
				}
				break
			}
			toks = appendWord(toks, text[i:j])
			i = j
		default:
			i += size
		}
	}
	return toks
}

// Terms returns the texts of Tokens(text).
func Terms(text string) []string {
	toks := Tokens(text)
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = t.Text
	}
	return out
}

func isWordRune(r rune) bool {
	return (unicode.IsLetter(r) || unicode.IsDigit(r)) && !IsCJK(r)
}

func isJoiner(r rune) bool { return r == '-' || r == '.' || r == '_' || r == '\'' }

func nextIsWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isWordRune(r)
}

func appendWord(toks []Token, w string) []Token {
	if !strings.ContainsAny(w, "-._'") {
		if stopWords[w] {
			return toks
		}
		return append(toks, Token{Stem(w), Word})
	}
	if strings.Contains(w, "'") { // don't, it's, customer's
		w = strings.Split(w, "'")[0]
		return appendWord(toks, w)
	}
	toks = append(toks, Token{w, Word})
	for _, p := range strings.FieldsFunc(w, isJoiner) {
		if !stopWords[p] {
			toks = append(toks, Token{Stem(p), Word})
		}
	}
	return toks
}

func appendCJK(toks []Token, run []rune) []Token {
	for k, r := range run {
		if !cjkStop[r] || len(run) == 1 {
			toks = append(toks, Token{string(r), Unigram})
		}
		if k+1 < len(run) {
			toks = append(toks, Token{string(run[k : k+2]), Bigram})
		}
	}
	return toks
}

// Stem removes common English inflections ("returns" -> "return",
// "shipping" -> "ship", "refunded" -> "refund"). It is deliberately light:
// it only has to make the query and the document agree, not find roots.
func Stem(w string) string {
	n := len(w)
	if n <= 3 || w[n-1] < 'a' || w[n-1] > 'z' {
		return w
	}
	switch {
	case strings.HasSuffix(w, "ies") && n > 4:
		return w[:n-3] + "y"
	case strings.HasSuffix(w, "sses"):
		return w[:n-2]
	case strings.HasSuffix(w, "ing") && n > 5:
		return undouble(w[:n-3])
	case strings.HasSuffix(w, "ed") && n > 4:
		return undouble(w[:n-2])
	case strings.HasSuffix(w, "es") && n > 4 && strings.ContainsAny(w[n-3:n-2], "sxz"):
		return w[:n-2]
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us"):
		return w[:n-1]
	}
	return w
}

// undouble turns "shipp" into "ship" so that "shipping" and "ship" agree.
func undouble(w string) string {
	n := len(w)
	if n >= 3 && w[n-1] == w[n-2] && !strings.ContainsAny(w[n-1:], "lsz") {
		return w[:n-1]
	}
	return w
}

var stopWords = setOf(`a an the and or but if of to in on at by for with from as is are was were be been being
do does did doing have has had having i me my mine we our you your yours he she it its they them their this that
these those there here what which who whom whose when where why how can could would should will shall may might
must so than then too very just about into over under again also any some such no nor not only own same s t
am im i'm pls please hi hello hey ok okay thanks thank`)

var cjkStop = func() map[rune]bool {
	m := map[rune]bool{}
	for _, r := range "的了吗呢啊吧呀么是在我你他她它们这那有和与及或也都就还很把被给着过之" {
		m[r] = true
	}
	return m
}()

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}
