package guard

import (
	"regexp"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// PII kinds, also the placeholders Redact writes ("[phone]").
const (
	PIIEmail   = "email"
	PIIPhone   = "phone"
	PIICard    = "card"
	PIIID      = "id_number"
	PIIAddress = "address"
)

// Finding is one piece of personal data in a text, by byte offsets into the
// cleaned text that Redact returns.
type Finding struct {
	Kind       string
	Start, End int
}

type piiPattern struct {
	kind  string
	re    *regexp.Regexp
	valid func(match string) bool
}

var piiPatterns = []piiPattern{
	{PIIEmail, regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`), nil},
	// Chinese resident ID: 17 digits and a check character, checked below.
	{PIIID, regexp.MustCompile(`(?:^|[^0-9A-Za-z])(\d{17}[\dXx])(?:$|[^0-9A-Za-z])`), validResidentID},
	// Mainland mobile numbers, with or without +86, optionally grouped 3-4-4.
	{PIIPhone, regexp.MustCompile(`(?:^|[^0-9A-Za-z])((?:\+?86[ \-]?)?1[3-9]\d(?:[ \-]?\d{4}){2})(?:$|[^0-9A-Za-z])`), nil},
	// International numbers written with a leading +.
	{PIIPhone, regexp.MustCompile(`(?:^|[^0-9A-Za-z])(\+\d{1,3}[ \-]?(?:\(\d{1,4}\)[ \-]?)?\d{2,4}(?:[ \-]?\d{2,4}){1,4})(?:$|[^0-9A-Za-z])`), enoughDigits(8)},
	// Chinese landlines: area code and number.
	{PIIPhone, regexp.MustCompile(`(?:^|[^0-9A-Za-z])(0\d{2,3}-\d{7,8})(?:$|[^0-9A-Za-z])`), nil},
	// Bank cards: 13-19 digits, optionally grouped by spaces or dashes, Luhn-checked.
	{PIICard, regexp.MustCompile(`(?:^|[^0-9A-Za-z\-])((?:\d[ \-]?){12,18}\d)(?:$|[^0-9A-Za-z\-])`), validCard},
	// Chinese street addresses: a road, street or lane with a house number.
	{PIIAddress, regexp.MustCompile(`(?:\p{Han}{2,8}(?:省|自治区|市|区|县|镇|乡|街道))*\p{Han}{1,12}(?:路|街|道|巷|弄|胡同|大道)\d{1,5}(?:号|弄)(?:[\p{Han}\d\-]{0,12}(?:栋|幢|座|单元|室|楼|层))*`), nil},
	// English street addresses: a house number, one to four words and a street suffix.
	{PIIAddress, regexp.MustCompile(`(?i)\b\d{1,5}[A-Za-z]?\s+(?:[A-Za-z][A-Za-z'.\-]*\s+){1,4}(?:street|st|road|rd|avenue|ave|boulevard|blvd|lane|ln|drive|dr|way|court|ct|place|pl|terrace|crescent|close)\b\.?(?:,?\s*(?:apt|apartment|unit|flat|suite|#)\s*\w+)?`), nil},
}

// Redact returns text with personal data replaced by bracketed placeholders
// ("[phone]", "[email]"), and what it found. The text is first put in NFKC
// form with invisible format characters removed, so full-width digits or a
// zero-width space inside a number do not hide it; the result is in that
// form. Order numbers and tracking numbers (letters followed by digits) are
// not personal data and are kept.
func Redact(text string) (string, []Finding) {
	clean := cleanForPII(text)
	var found []Finding
	digits, at := strings.ContainsAny(clean, "0123456789"), strings.IndexByte(clean, '@') >= 0
	for _, p := range piiPatterns {
		// Every pattern needs an ASCII digit (\d) but the e-mail one, which
		// needs an @; most text has neither, and is done at once.
		if p.kind == PIIEmail && !at || p.kind != PIIEmail && !digits {
			continue
		}
		for _, m := range p.re.FindAllStringSubmatchIndex(clean, -1) {
			start, end := m[0], m[1]
			if len(m) >= 4 && m[2] >= 0 {
				start, end = m[2], m[3]
			}
			if p.valid != nil && !p.valid(clean[start:end]) {
				continue
			}
			if overlaps(found, start, end) {
				continue
			}
			found = append(found, Finding{Kind: p.kind, Start: start, End: end})
		}
	}
	if len(found) == 0 {
		return clean, nil
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Start < found[j].Start })
	var b strings.Builder
	last := 0
	for _, f := range found {
		b.WriteString(clean[last:f.Start])
		b.WriteString("[" + f.Kind + "]")
		last = f.End
	}
	b.WriteString(clean[last:])
	return b.String(), found
}

// HasPII reports whether text holds personal data.
func HasPII(text string) bool {
	_, found := Redact(text)
	return len(found) > 0
}

func cleanForPII(text string) string {
	text = norm.NFKC.String(text)
	if !strings.ContainsFunc(text, func(r rune) bool { return unicode.Is(unicode.Cf, r) }) {
		return text
	}
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, text)
}

func overlaps(found []Finding, start, end int) bool {
	for _, f := range found {
		if start < f.End && f.Start < end {
			return true
		}
	}
	return false
}

func digitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func enoughDigits(n int) func(string) bool {
	return func(s string) bool { return len(digitsOf(s)) >= n }
}

// validCard applies the Luhn check to 13-19 digits.
func validCard(s string) bool {
	d := digitsOf(s)
	if len(d) < 13 || len(d) > 19 {
		return false
	}
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

// validResidentID checks the GB 11643 check character of an 18-character
// Chinese resident ID number, and that its birth month and day are plausible.
func validResidentID(s string) bool {
	if len(s) != 18 {
		return false
	}
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(s[i]-'0') * weights[i]
	}
	check := "10X98765432"[sum%11]
	last := s[17]
	if last == 'x' {
		last = 'X'
	}
	month := int(s[10]-'0')*10 + int(s[11]-'0')
	day := int(s[12]-'0')*10 + int(s[13]-'0')
	return last == check && month >= 1 && month <= 12 && day >= 1 && day <= 31
}
