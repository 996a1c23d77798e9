package guard

import (
	"regexp"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// factPattern finds the checkable facts of an answer: amounts with a
// currency, percentages, dates, times of day, ranges ("3-5"), durations
// ("7 days", "15天"), order numbers and other numbers of two or more digits.
var factPattern = regexp.MustCompile(`[¥$€£]\s?\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?\s?(?:元|块|%|％)|\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}|\b[A-Z]{1,4}\d{6,}(?:-\d{2,})?\b|\d+(?:\.\d+)?\s?[-–~]\s?\d+(?:\.\d+)?|\d+(?:\.\d+)?\s?(?:business days?|working days?|days?|hours?|weeks?|months?|years?|个工作日|工作日|天|小时|周|个月|年)|\d+(?:\.\d+)?`)

// durationOrRange marks a fact that is checked even with a single digit.
var durationOrRange = regexp.MustCompile(`[-–~]|[a-z天日时周月年]`)

// Ungrounded returns the facts of answer (amounts, percentages, dates,
// times, order and tracking numbers, numbers) that appear in none of the
// sources, compared after NFKC with thousands separators and white space
// removed. An answer that states only what its sources say returns nil.
// Citation markers ([1]) are not facts.
func Ungrounded(answer string, sources []string) []string {
	// A citation marker parts what stands on either side of it: "0[1]0"
	// is two zeros, not "00".
	answer = citationMarker.ReplaceAllString(norm.NFKC.String(answer), " ")
	var src strings.Builder
	for _, s := range sources {
		src.WriteString(compact(norm.NFKC.String(s)))
		src.WriteByte('\n')
	}
	all := src.String()
	var missing []string
	seen := map[string]bool{}
	// Facts are read one after another, each from where the last ended,
	// so that a fact runs to the end of its number and the next starts
	// after it.
	for pos := 0; pos < len(answer); {
		loc := factPattern.FindStringIndex(answer[pos:])
		if loc == nil {
			break
		}
		loc[0], loc[1] = loc[0]+pos, loc[1]+pos
		// A fact runs to the end of its number, thousands groups
		// included, as compact reads the sources: "0:000" is not the time
		// "0:00" and a zero, nor "0000-00,000" a range and a number.
		end := loc[1]
	number:
		for end < len(answer) && isDigit(answer[end-1]) {
			switch {
			case isDigit(answer[end]):
				end++
			case answer[end] == ',' && isThousands(answer[end+1:]):
				end += 4
			default:
				break number
			}
		}
		pos = end
		f := strings.TrimRight(answer[loc[0]:end], ",") // "¥1299, not 299"
		c := compact(f)
		if seen[c] || len(digitsOf(c)) < 2 && !strings.ContainsAny(c, "¥$€£%") && !durationOrRange.MatchString(c) {
			continue
		}
		seen[c] = true
		if !containsFact(all, c) && !containsFact(all, digitsCore(c)) {
			missing = append(missing, f)
		}
	}
	return missing
}

var citationMarker = regexp.MustCompile(`\[\d{1,2}\]`)

// promiseCues are commitments an answer may only repeat, never make: the
// shop's documents must say them.
var promiseCues = []string{
	"guarantee", "we promise", "i promise", "we will refund", "you will get", "you'll get", "full refund", "free of charge",
	"compensat", "no questions asked", "lifetime", "always free", "we will replace", "for free",
	"保证", "承诺", "一定会", "全额退款", "免费更换", "赔偿", "包赔", "终身", "无条件",
}

// Promises returns the commitments in answer ("full refund", "保证") that
// none of the sources contains, compared case-insensitively after NFKC.
func Promises(answer string, sources []string) []string {
	a := strings.ToLower(norm.NFKC.String(answer))
	var src strings.Builder
	for _, s := range sources {
		src.WriteString(strings.ToLower(norm.NFKC.String(s)))
		src.WriteByte('\n')
	}
	all := src.String()
	var out []string
	for _, cue := range promiseCues {
		if strings.Contains(a, cue) && !strings.Contains(all, cue) {
			out = append(out, cue)
		}
	}
	return out
}

// compact drops white space and thousands separators: "¥ 1,299" -> "¥1299".
// White space between two numbers becomes "|" and a comma that does not
// separate thousands stays, so that numbers side by side ("38 40 42",
// "38,40,42") are not read as one.
func compact(s string) string {
	space := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case space(c):
			j := i
			for j < len(s) && space(s[j]) {
				j++
			}
			if b.Len() > 0 && isDigit(b.String()[b.Len()-1]) && j < len(s) && isDigit(s[j]) {
				b.WriteByte('|')
			}
			i = j - 1
		case c == ',' && i > 0 && isDigit(s[i-1]) && isThousands(s[i+1:]):
			// Only a comma right after a digit separates thousands, as
			// the answer's facts are read: "0 ,000" is 0 and 000.
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// isThousands reports whether s starts with three digits and no fourth.
func isThousands(s string) bool {
	return len(s) >= 3 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) && (len(s) == 3 || !isDigit(s[3]))
}

// digitsCore strips a currency sign or unit so "¥599" matches "599.00 CNY"
// in a record; a number alone must still match a number in the source.
func digitsCore(s string) string {
	s = strings.TrimLeft(s, "¥$€£")
	s = strings.TrimRight(s, "元块")
	return s
}

// containsFact reports whether fact occurs in text without being part of a
// longer number: "45" is not found in "SF1420576381945".
func containsFact(text, fact string) bool {
	if fact == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(text[i:], fact)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(fact)
		before := start > 0 && isDigit(text[start-1]) && isDigit(fact[0])
		after := end < len(text) && isDigit(text[end]) && isDigit(fact[len(fact)-1])
		if !before && !after {
			return true
		}
		i = start + 1
	}
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
