package guard

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// PII kinds, also the placeholders Redact writes ("[phone]").
const (
	PIIEmail    = "email"
	PIIPhone    = "phone"
	PIICard     = "card"
	PIIID       = "id_number"
	PIIAddress  = "address"
	PIISSN      = "ssn"
	PIIIBAN     = "iban"
	PIIPassport = "passport"
	PIICVV      = "cvv"
	PIIExpiry   = "expiry"
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
	// needs lists bytes one of which the text must hold for the pattern
	// to match at all ("": an ASCII digit), checked before it runs.
	needs string
	// cues, when set, are words one of which the lower-cased text must
	// hold for the pattern to match at all.
	cues []string
}

// Around a number: not glued to a letter or digit.
const (
	pre  = `(?:^|[^0-9A-Za-z])`
	post = `(?:$|[^0-9A-Za-z])`
	// cueGap is what may stand between a cue word and its number: spaces,
	// a colon, "no." or "number", "是", "号码" and the like, but never
	// another placeholder or number, so that a second pass finds nothing
	// new.
	cueGap = `(?:[\s:#.=,]|no|number|num|nr|code|is|was|are|是|为|號|号|码|碼)*`
)

var piiPatterns = []piiPattern{
	{PIIEmail, regexp.MustCompile(`([A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})(?:$|[^A-Za-z0-9])`), nil, "@", nil},
	// E-mail written to dodge a scraper: "li.wei at example dot com",
	// "li.wei(at)example(dot)com", "li.wei [at] example.com". The
	// domain must end in a common top-level domain.
	{PIIEmail, regexp.MustCompile(`(?i)[A-Za-z0-9._%+\-]+(?:\s*[(\[{<]\s*at\s*[)\]}>]\s*|\s+at\s+|\s*@\s*)[A-Za-z0-9\-]+(?:(?:\s*[(\[{<]\s*dot\s*[)\]}>]\s*|\s+dot\s+|\.)[A-Za-z0-9\-]+)*(?:\s*[(\[{<]\s*dot\s*[)\]}>]\s*|\s+dot\s+|\.)(?:com|net|org|edu|gov|info|biz|io|co|cn|hk|tw|jp|kr|sg|uk|de|fr|it|es|nl|us|ca|au|me)\b`), obfuscatedEmail, "@tT", []string{" at ", "(at)", "[at]", "{at}", "<at>", " @", "@ ", "( at", "[ at"}},
	// IBAN: a country, two check digits and up to 30 letters and digits,
	// in groups of four or not, checked by its mod-97 check.
	{PIIIBAN, regexp.MustCompile(`(?i)` + pre + `([A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?)` + post), validIBAN, "", nil},
	// Numbers named by a cue word: any shape after "passport", "CVV",
	// "expiry", "身份证" or "card number" is the thing named.
	{PIIPassport, regexp.MustCompile(`(?i)(?:passport|护照|護照)` + cueGap + `([A-Z]{1,2}\d{6,9}|\d{8,9})` + post), nil, "", []string{"passport", "护照", "護照"}},
	{PIICVV, regexp.MustCompile(`(?i)(?:cvv2?|cvc2?|csc|cid|security\s+code|安全码|安全碼|校验码|卡背(?:后|面)?三位(?:数字?)?)` + cueGap + `(\d{3,4})` + post), nil, "", []string{"cvv", "cvc", "csc", "cid", "security", "安全码", "安全碼", "校验码", "卡背"}},
	{PIIExpiry, regexp.MustCompile(`(?i)(?:exp(?:iry|iration|ires)?(?:\s+date)?|valid\s+(?:thru|through|until)|good\s+thru|有效期(?:至|到)?|到期(?:日|时间)?|过期时间)` + cueGap + `((?:0?[1-9]|1[0-2])\s*[/\-]\s*(?:\d{4}|\d{2})|\d{4}\s*[/\-]\s*(?:0?[1-9]|1[0-2])|\d{2,4}\s*年\s*\d{1,2}\s*月)` + post), nil, "", []string{"exp", "valid", "good", "有效期", "到期", "过期"}},
	{PIIID, regexp.MustCompile(`(?i)(?:身份证|身份證|证件|證件|居民身份|id\s*card|national\s+id|id\s+number|resident\s+id)` + cueGap + `((?:\d[ \-]?){17}[\dX]|(?:\d[ \-]?){14}\d)` + post), nil, "", []string{"身份", "证件", "證件", "id", "居民"}},
	{PIICard, regexp.MustCompile(`(?i)(?:卡号|卡號|银行卡|信用卡|借记卡|card\s*(?:number|no|#)|credit\s+card|debit\s+card)` + cueGap + `((?:\d[ \-]?){12,18}\d)` + post), nil, "", []string{"卡号", "卡號", "银行卡", "信用卡", "借记卡", "card"}},
	{PIISSN, regexp.MustCompile(`(?i)(?:ssn|social\s+security(?:\s+number)?)` + cueGap + `(\d{3}[ \-]?\d{2}[ \-]?\d{4})` + post), nil, "", []string{"ssn", "social"}},
	// Chinese resident ID: 17 digits and a check character, checked
	// below, whole or in the groupings people write (6-8-4, 6-4-4-4).
	{PIIID, regexp.MustCompile(`(?i)` + pre + `(\d{17}[\dX]|\d{6}[ \-]\d{8}[ \-]\d{3}[\dX]|\d{6}[ \-]\d{4}[ \-]\d{4}[ \-]\d{3}[\dX])` + post), validResidentID, "", nil},
	// The 15-digit IDs issued before 1999: region, birth date YYMMDD, three digits.
	{PIIID, regexp.MustCompile(pre + `(\d{15})` + post), validOldResidentID, "", nil},
	// US Social Security numbers, 123-45-6789.
	{PIISSN, regexp.MustCompile(pre + `(\d{3}-\d{2}-\d{4})` + post), validSSN, "", nil},
	// Mainland mobile numbers, with or without +86, optionally grouped 3-4-4.
	{PIIPhone, regexp.MustCompile(pre + `((?:\+?86[ \-]?)?1[3-9]\d(?:[ \-.]?\d{4}){2})` + post), nil, "", nil},
	// International numbers written with a leading +.
	{PIIPhone, regexp.MustCompile(pre + `(\+\d{1,3}[ \-.]?(?:\(\d{1,4}\)[ \-.]?)?\d{2,4}(?:[ \-.]?\d{2,4}){1,4})` + post), enoughDigits(8), "", nil},
	// Numbers dialled with a trunk 0: Chinese landlines with their area
	// code (0571-88886666, (010) 1234 5678), UK numbers (020 7946 0958,
	// 07700 900123): 10 to 12 digits.
	{PIIPhone, regexp.MustCompile(pre + `((?:\(0\d{1,4}\)|0\d{1,4})[ \-]?\d{2,8}(?:[ \-]\d{2,8}){0,2})` + post), trunkNumber, "", nil},
	// North American numbers: (555) 123-4567, 555-123-4567, 555.123.4567,
	// but not the toll-free service lines of businesses (400, 800, 888...).
	{PIIPhone, regexp.MustCompile(pre + `((?:\(\d{3}\)\s?|\d{3}[\-.])\d{3}[\-.]\d{4})` + post), personalNANP, "", nil},
	// Bank cards: 13-19 digits, optionally grouped by spaces or dashes, Luhn-checked.
	{PIICard, regexp.MustCompile(`(?:^|[^0-9A-Za-z\-])((?:\d[ \-]?){12,18}\d)(?:$|[^0-9A-Za-z\-])`), validCard, "", nil},
	// Chinese street addresses: a road, street or lane with a house number.
	{PIIAddress, regexp.MustCompile(`(?:\p{Han}{2,8}(?:省|自治区|市|区|县|镇|乡|街道))*\p{Han}{1,12}(?:路|街|道|巷|弄|胡同|大道)\d{1,5}(?:号|弄)(?:[\p{Han}\d\-]{0,12}(?:栋|幢|座|单元|室|楼|层))*`), nil, "", nil},
	// English street addresses: a house number, one to four words and a street suffix.
	{PIIAddress, regexp.MustCompile(`(?i)\b\d{1,5}[A-Za-z]?\s+(?:[A-Za-z][A-Za-z'.\-]*\s+){1,4}(?:street|st|road|rd|avenue|ave|boulevard|blvd|lane|ln|drive|dr|way|court|ct|place|pl|terrace|crescent|close)\b\.?(?:,?\s*(?:apt|apartment|unit|flat|suite|#)\s*\w+)?`), nil, "", nil},
}

// Redact returns text with personal data replaced by bracketed placeholders
// ("[phone]", "[email]"), and what it found, in the order of the text. The
// text is first put in NFKC form with invisible format characters removed,
// so full-width digits or a zero-width space inside a number do not hide
// it; the result is in that form. Order numbers and tracking numbers
// (letters followed by digits) are not personal data and are kept.
//
// Redact is idempotent: a placeholder can change what its neighbours look
// like (a number glued to a phone number stands alone after "[phone]"),
// so the redacted text is searched again until nothing more is found, and
// those findings count as the input's too.
func Redact(text string) (string, []Finding) {
	clean := cleanForPII(text)
	found := scanPII(clean)
	if len(found) == 0 {
		return clean, nil
	}
	out := placeholders(clean, found)
	for pass := 0; pass < maxPasses; pass++ {
		more := scanPII(out)
		if len(more) == 0 {
			break
		}
		base := found[:len(found):len(found)] // the findings out was written with
		for _, f := range more {
			found = append(found, Finding{Kind: f.Kind, Start: inputOffset(base, f.Start), End: inputOffset(base, f.End)})
		}
		sort.Slice(found, func(i, j int) bool { return found[i].Start < found[j].Start })
		out = placeholders(clean, found)
	}
	return out, found
}

// maxPasses bounds the searches of a redacted text; each one redacts more
// of it, and one more is rarely needed.
const maxPasses = 8

// scanPII returns the personal data in clean, in the order of the text.
func scanPII(clean string) []Finding {
	var found []Finding
	digits := strings.ContainsAny(clean, "0123456789")
	lower := ""
	for _, p := range piiPatterns {
		// Every pattern needs an ASCII digit (\d) but the e-mail ones,
		// which need an @ or an "at"; most text has neither, and is done
		// at once. A pattern led by cue words runs only on a text that
		// holds one.
		if p.needs == "" && !digits || p.needs != "" && !strings.ContainsAny(clean, p.needs) {
			continue
		}
		if len(p.cues) > 0 {
			if lower == "" {
				lower = strings.ToLower(clean)
			}
			if !slices.ContainsFunc(p.cues, func(c string) bool { return strings.Contains(lower, c) }) {
				continue
			}
		}
		found = p.find(clean, found)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Start < found[j].Start })
	return found
}

// placeholders writes clean with each finding (in order, apart) replaced
// by its placeholder.
func placeholders(clean string, found []Finding) string {
	var b strings.Builder
	last := 0
	for _, f := range found {
		b.WriteString(clean[last:f.Start])
		b.WriteString("[" + f.Kind + "]")
		last = f.End
	}
	b.WriteString(clean[last:])
	return b.String()
}

// inputOffset maps an offset of placeholders(clean, found) that lies
// outside every placeholder back to clean.
func inputOffset(found []Finding, out int) int {
	in, at := 0, 0 // matching offsets of clean and of the output
	for _, f := range found {
		gap := f.Start - in
		if out <= at+gap {
			break
		}
		at += gap + len(f.Kind) + 2
		in = f.End
	}
	return in + (out - at)
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

// maxRestarts bounds the searches p.find starts again inside a match it
// turned down, so that a long run of digits stays linear.
const maxRestarts = 32

// find adds p's findings in clean to found. A match that fails its check
// or overlaps an earlier finding is searched again from the next word
// boundary inside it, so that it cannot hide a number after it; a
// match's closing boundary character stays free to open the next match
// ("13812345678 13912345678").
func (p piiPattern) find(clean string, found []Finding) []Finding {
	word := isAlnum
	switch p.kind {
	case PIIEmail:
		word = func(c byte) bool { return isAlnum(c) || strings.IndexByte("._%+-", c) >= 0 }
	case PIICard:
		word = func(c byte) bool { return isAlnum(c) || c == '-' }
	}
	pos, restarts := 0, 0
	for pos < len(clean) {
		m := p.re.FindStringSubmatchIndex(clean[pos:])
		if m == nil {
			break
		}
		start, end := m[0]+pos, m[1]+pos
		if len(m) >= 4 && m[2] >= 0 {
			start, end = m[2]+pos, m[3]+pos
		}
		if start < end && (p.valid == nil || p.valid(clean[start:end])) && !overlaps(found, start, end) {
			found = append(found, Finding{Kind: p.kind, Start: start, End: end})
			pos = end
			continue
		}
		if restarts == maxRestarts {
			pos += max(m[1], m[0]+1)
			continue
		}
		restarts++
		// The next place after the match's start where a word begins:
		// an expression's ^ there is then a true boundary.
		next := pos + m[0] + 1
		for next < len(clean) && (word(clean[next-1]) || !utf8.RuneStart(clean[next])) {
			next++
		}
		pos = next
	}
	return found
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
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
// Chinese resident ID number (separators dropped), and that its region
// and birth month and day are plausible.
func validResidentID(s string) bool {
	s = strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(s))
	if len(s) != 18 || !validRegion(s) {
		return false
	}
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(s[i]-'0') * weights[i]
	}
	check := "10X98765432"[sum%11]
	last := s[17]
	month := int(s[10]-'0')*10 + int(s[11]-'0')
	day := int(s[12]-'0')*10 + int(s[13]-'0')
	return last == check && month >= 1 && month <= 12 && day >= 1 && day <= 31
}

// validRegion reports whether an ID number starts with a province code.
func validRegion(s string) bool {
	p := int(s[0]-'0')*10 + int(s[1]-'0')
	switch {
	case p >= 11 && p <= 15, p >= 21 && p <= 23, p >= 31 && p <= 37, p >= 41 && p <= 46,
		p >= 50 && p <= 54, p >= 61 && p <= 65, p == 71, p == 81, p == 82:
		return true
	}
	return false
}

// validOldResidentID checks a 15-digit ID number: a province code and a
// plausible birth date YYMMDD.
func validOldResidentID(s string) bool {
	if len(s) != 15 || !validRegion(s) {
		return false
	}
	month := int(s[8]-'0')*10 + int(s[9]-'0')
	day := int(s[10]-'0')*10 + int(s[11]-'0')
	return month >= 1 && month <= 12 && day >= 1 && day <= 31
}

// validSSN rejects the numbers never issued: area 000, 666 or 900-999,
// group 00, serial 0000.
func validSSN(s string) bool {
	d := digitsOf(s)
	if len(d) != 9 {
		return false
	}
	area, group, serial := d[:3], d[3:5], d[5:]
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

// validIBAN applies the ISO 13616 mod-97 check, which one mistyped
// character fails, to an IBAN of 15 to 34 characters.
func validIBAN(s string) bool {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	s = s[4:] + s[:4]
	rem := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A') + 10) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// trunkNumber accepts a number dialled with a trunk 0 when it has 10 to
// 12 digits, as landlines with an area code and UK numbers have.
func trunkNumber(s string) bool {
	n := len(digitsOf(s))
	return n >= 10 && n <= 12
}

// personalNANP refuses the toll-free service prefixes, which are shops'
// and carriers' lines, not a person's: 400 and 800 numbers in China,
// 8XX in North America.
func personalNANP(s string) bool {
	d := digitsOf(s)
	if len(d) != 10 {
		return false
	}
	switch d[:3] {
	case "400", "800", "833", "844", "855", "866", "877", "888", "900":
		return false
	}
	return d[0] >= '2'
}

// obfuscatedEmail keeps the plain "x at y dot z" shape to words that look
// like an address: the local part and the domain are not common words
// before "at" ("look at", "arrive at").
func obfuscatedEmail(s string) bool {
	lower := strings.ToLower(s)
	if strings.Contains(lower, "@") && !strings.ContainsAny(lower, " ([{<") {
		return false // a plain address, the first pattern's
	}
	local := strings.FieldsFunc(lower, func(r rune) bool { return r == ' ' || r == '(' || r == '[' || r == '{' || r == '<' || r == '@' })
	if len(local) == 0 {
		return false
	}
	switch local[0] {
	case "look", "arrive", "arrived", "be", "is", "am", "are", "was", "at", "me", "us", "them", "him", "her", "it", "stay", "stayed", "shop", "buy", "bought", "sold", "available", "here", "there":
		return false
	}
	return true
}

// Shorten cuts text to at most n runes, marking a cut with "…", without
// splitting any personal data Redact finds: a cut that would fall inside a
// phone or card number falls before it instead, so that redacting the
// result finds the number whole or not at all (a number cut in two leaks
// its digits past the redactor). The result is in Redact's cleaned form
// (NFKC, no format characters). Use it wherever text that is redacted
// later is shortened first.
func Shorten(text string, n int) string {
	clean := cleanForPII(text)
	if n < 0 {
		n = 0
	}
	if utf8.RuneCountInString(clean) <= n {
		return clean
	}
	cut := 0
	for range n {
		_, size := utf8.DecodeRuneInString(clean[cut:])
		cut += size
	}
	_, found := Redact(clean)
	for _, f := range found {
		if f.Start < cut && cut < f.End {
			cut = f.Start
			break
		}
	}
	return clean[:cut] + "…"
}
