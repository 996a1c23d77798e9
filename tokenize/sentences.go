package tokenize

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentences splits text into sentences (English . ! ? followed by a
// space, Chinese 。！？；) and lines. Fragments too short to say anything
// are dropped.
func Sentences(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		start := 0
		runes := []rune(line)
		for i, r := range runes {
			end := false
			switch r {
			case '。', '！', '？', '；':
				end = true
			case '.', '!', '?':
				end = i+1 == len(runes) || runes[i+1] == ' '
				// "e.g. " and "approx. " are not sentence ends, nor is the
				// number of a list item ("要求：1. 安装环境…").
				if end && r == '.' && (i >= 3 && (strings.HasSuffix(string(runes[:i]), "e.g") || strings.HasSuffix(string(runes[:i]), "i.e")) || itemMark(runes[:i])) {
					end = false
				}
			}
			if end {
				out = appendSentence(out, string(runes[start:i+1]))
				start = i + 1
			}
		}
		out = appendSentence(out, string(runes[start:]))
	}
	return out
}

// itemMark reports whether the text before a full stop ends in a list
// item's number: one or two digits at the start or after a colon, comma,
// semicolon, sentence end or Chinese character.
func itemMark(before []rune) bool {
	n := 0
	for n < len(before) && n < 3 && unicode.IsDigit(before[len(before)-1-n]) {
		n++
	}
	if n == 0 || n > 2 {
		return false
	}
	if n == len(before) {
		return true
	}
	prev := before[len(before)-1-n]
	return IsCJK(prev) || strings.ContainsRune("：:，,；;。、（(】」』）)", prev)
}

func appendSentence(out []string, s string) []string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) < 2 || utf8.RuneCountInString(s) < 4 && !hasCJK(s) {
		return out
	}
	return append(out, s)
}

func hasCJK(s string) bool {
	for _, r := range s {
		if IsCJK(r) {
			return true
		}
	}
	return false
}
