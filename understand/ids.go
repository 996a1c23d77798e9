package understand

import (
	"strings"

	"golang.org/x/text/unicode/norm"
)

// Kind tells what an identifier-shaped token is, by its shape.
type Kind uint8

const (
	// KindOrder is an order or tracking number: a short letter prefix
	// followed only by digits (W260912-1001, SF1409283756120) or a bare run
	// of eight or more digits.
	KindOrder Kind = iota + 1
	// KindModel is a model number or SKU: letters after digits or several
	// letter groups (F8033-UDmini, MR-421WUFPZE, LM-HP-001).
	KindModel
)

func (k Kind) String() string {
	switch k {
	case KindOrder:
		return "order"
	case KindModel:
		return "model"
	}
	return "none"
}

// Identifier is one identifier-shaped token of a message, upper-cased.
type Identifier struct {
	Text string
	Kind Kind
}

// maxIdentifiers bounds the identifiers read from one message.
const maxIdentifiers = 16

// Identifiers returns the identifier-shaped tokens of text in order, each
// once: tokens of ASCII letters and digits (joined by inner - _ / or .)
// that hold a digit, are not a quantity ("3000mAh", "1.5L", "2nd") or a
// date or decimal, and are at least three characters long (eight for a
// bare number). Text is read after NFKC, so full-width digits count.
func Identifiers(text string) []Identifier { return identifiersOf(norm.NFKC.String(text)) }

func identifiersOf(text string) []Identifier {
	var out []Identifier
	for _, tok := range idTokens(text) {
		k := classify(tok)
		if k == 0 {
			continue
		}
		up := strings.ToUpper(tok)
		dup := false
		for _, id := range out {
			dup = dup || id.Text == up
		}
		if !dup {
			out = append(out, Identifier{Text: up, Kind: k})
			if len(out) == maxIdentifiers {
				break
			}
		}
	}
	return out
}

// OrderShaped reports whether s, one token, is shaped like an order or
// tracking number.
func OrderShaped(s string) bool { return classify(s) == KindOrder }

// idTokens splits s into maximal runs of ASCII letters and digits, where
// '-', '_', '/' and '.' join two such characters.
func idTokens(s string) []string {
	spans := idSpans(s)
	out := make([]string, len(spans))
	for i, sp := range spans {
		out[i] = s[sp[0]:sp[1]]
	}
	return out
}

// idSpans is idTokens as byte offsets into s.
func idSpans(s string) [][2]int {
	var out [][2]int
	start := -1
	for i := 0; i <= len(s); i++ {
		switch {
		case i < len(s) && isAlnum(s[i]):
			if start < 0 {
				start = i
			}
		case i < len(s) && start >= 0 && isJoin(s[i]) && i+1 < len(s) && isAlnum(s[i+1]):
			// inside a token
		default:
			if start >= 0 {
				out = append(out, [2]int{start, i})
				start = -1
			}
		}
	}
	return out
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isJoin(c byte) bool { return c == '-' || c == '_' || c == '/' || c == '.' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// classify reads one token's shape: 0 for a token that is no identifier.
func classify(tok string) Kind {
	var digits, letters int
	for i := 0; i < len(tok); i++ {
		switch {
		case isDigit(tok[i]):
			digits++
		case isLetter(tok[i]):
			letters++
		}
	}
	switch {
	case digits == 0:
		return 0
	case letters == 0:
		// A bare number is an order or tracking number when long enough and
		// unbroken; dates, prices and decimals are not identifiers.
		if digits == len(tok) && digits >= 8 {
			return KindOrder
		}
		return 0
	case len(tok) < 3 || quantity(tok):
		return 0
	}
	// Letters only as a prefix of at most three, then digits, optionally a
	// dash and more digits: an order number as shops write them.
	i := 0
	for i < len(tok) && isLetter(tok[i]) {
		i++
	}
	j := i
	for j < len(tok) && isDigit(tok[j]) {
		j++
	}
	if i >= 1 && i <= 3 && j-i >= 4 {
		if j == len(tok) {
			return KindOrder
		}
		if tok[j] == '-' && j+3 <= len(tok) && allDigits(tok[j+1:]) {
			return KindOrder
		}
	}
	return KindModel
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// quantity reports a number with a short unit or suffix and nothing else:
// "3000mAh", "65W", "1.5L", "128GB", "2nd".
func quantity(tok string) bool {
	i := 0
	for i < len(tok) && (isDigit(tok[i]) || tok[i] == '.') {
		i++
	}
	if i == 0 || !isDigit(tok[0]) {
		return false
	}
	rest := tok[i:]
	if len(rest) == 0 || len(rest) > 4 {
		return false
	}
	for k := 0; k < len(rest); k++ {
		if !isLetter(rest[k]) {
			return false
		}
	}
	return true
}
