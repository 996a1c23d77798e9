package llmtest

import (
	"hash/fnv"
	"math"
	"unicode"
	"unicode/utf8"
)

func Vector(text string, dims int) []float32 {
	h := fnv.New64a()
	h.Write([]byte(text))
	state := h.Sum64() | 1
	v := make([]float32, dims)
	var norm float64
	for i := range v {
		// xorshift64*
		state ^= state >> 12
		state ^= state << 25
		state ^= state >> 27
		x := float64(state*2685821657736338717>>11)/float64(1<<53)*2 - 1
		v[i] = float32(x)
		norm += x * x
	}
	inv := 1 / math.Sqrt(norm)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
	return v
}

func Pieces(text string) []string {
	var out []string
	start := 0
	inSpace := false
	for i, r := range text {
		switch {
		case unicode.Is(unicode.Han, r) || unicode.In(r, unicode.Hiragana, unicode.Katakana) || isCJKPunct(r):
			if start < i {
				out = append(out, text[start:i])
			}
			size := utf8.RuneLen(r)
			out = append(out, text[i:i+size])
			start, inSpace = i+size, false
		case unicode.IsSpace(r):
			inSpace = true
		default:
			if inSpace && start < i {
				out = append(out, text[start:i])
				start = i
			}
			inSpace = false
		}
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

func isCJKPunct(r rune) bool {
	return (r >= 0x3000 && r <= 0x303F) || (r >= 0xFF00 && r <= 0xFFEF)
}
