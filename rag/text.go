package rag

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

var citePattern = regexp.MustCompile(`\[(\d{1,2})\]`)

// citedNumbers returns the n of every [n] marker in an answer.
func citedNumbers(answer string) map[int]bool {
	out := map[int]bool{}
	for _, m := range citePattern.FindAllStringSubmatch(answer, -1) {
		n, _ := strconv.Atoi(m[1])
		out[n] = true
	}
	return out
}

// snippet shortens text to at most n runes at a word or sentence boundary,
// flattening line breaks.
func snippet(text string, n int) string {
	text = strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(text) <= n {
		return text
	}
	runes := []rune(text)[:n]
	cut := len(runes)
	for i := len(runes) - 1; i > n*2/3; i-- {
		if runes[i] == ' ' || runes[i] == '。' || runes[i] == '，' {
			cut = i
			break
		}
	}
	return strings.TrimSpace(string(runes[:cut])) + "…"
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func itoa(n int) string { return strconv.Itoa(n) }
