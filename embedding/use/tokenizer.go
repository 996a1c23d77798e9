package use

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// separator stands for a space (and the start of the text) in the
// vocabulary's pieces.
const separator = "\u2581"

// reservedPieces are the vocabulary's first entries (unknown, <s>, </s>
// and three extra ids), which the tokeniser never produces by matching.
const reservedPieces = 6

// unknown is the id of the unknown piece.
const unknown = 0

// MaxChars is how many characters (Unicode code points, after NFKC
// normalisation) of a text are tokenised; the rest is cut. The encoder
// reads MaxPieces pieces, which a text this long always fills.
const MaxChars = 4096

// maxInputBytes bounds the text handed to normalisation.
const maxInputBytes = 4 * MaxChars * utf8.UTFMax

// piece is one vocabulary entry as the tokeniser matches it.
type piece struct {
	id    int32
	score float64
}

// Tokenizer splits text into the vocabulary's pieces by SentencePiece's
// unigram rule: the segmentation with the highest total score. It mirrors
// the JavaScript tokeniser the model is served with, quirks included: a
// character no piece starts with is an unknown piece of score 0, a
// running best of exactly 0 counts as unset, ties go to the later
// candidate, the way back steps by a piece's length in UTF-16 units, and
// runs of unknown pieces are merged into one.
type Tokenizer struct {
	pieces  map[string]piece
	lengths []int // UTF-16 length of each id's piece
	maxLen  int   // longest piece, in code points
}

// NewTokenizer builds a tokenizer from vocab.json's content: an array of
// [piece, score] pairs whose position is the piece's id.
func NewTokenizer(vocabJSON []byte) (*Tokenizer, error) {
	var raw [][2]any
	if err := json.Unmarshal(vocabJSON, &raw); err != nil {
		return nil, fmt.Errorf("read vocabulary: %w", err)
	}
	if len(raw) <= reservedPieces {
		return nil, fmt.Errorf("vocabulary has %d entries, want more than %d", len(raw), reservedPieces)
	}
	t := &Tokenizer{pieces: make(map[string]piece, len(raw)), lengths: make([]int, len(raw))}
	for i, e := range raw {
		s, ok := e[0].(string)
		// A null score counts as 0, as in JavaScript's arithmetic.
		score, isNum := e[1].(float64)
		if !ok || !isNum && e[1] != nil {
			return nil, fmt.Errorf("vocabulary entry %d is not [piece, score]", i)
		}
		t.lengths[i] = len(utf16.Encode([]rune(s)))
		if i < reservedPieces || s == "" {
			continue
		}
		// A piece listed twice keeps its last id and score, as the
		// JavaScript trie does.
		t.pieces[s] = piece{id: int32(i), score: score}
		t.maxLen = max(t.maxLen, utf8.RuneCountInString(s))
	}
	if t.lengths[unknown] != 1 {
		return nil, fmt.Errorf("vocabulary's unknown piece is %d UTF-16 units long, want 1", t.lengths[unknown])
	}
	return t, nil
}

// Normalize returns text as the tokeniser reads it: invalid UTF-8 replaced,
// NFKC-normalised, every space a separator and one separator in front
// (none for an empty text), cut to MaxChars characters.
func Normalize(text string) string {
	if len(text) > maxInputBytes {
		text = text[:maxInputBytes]
	}
	text = norm.NFKC.String(strings.ToValidUTF8(text, "\uFFFD"))
	if text == "" {
		return ""
	}
	text = separator + strings.ReplaceAll(text, " ", separator)
	if utf8.RuneCountInString(text) > MaxChars {
		n := 0
		for i := range text {
			if n == MaxChars {
				text = text[:i]
				break
			}
			n++
		}
	}
	return text
}

// Encode returns the ids of text's pieces, in order. An empty text has
// none.
func (t *Tokenizer) Encode(text string) []int32 {
	ids, _, _ := t.encode(text)
	return ids
}

// encode also returns how many of the normalised text's characters,
// spaces and separators aside, there are, and how many of those fell in
// unknown pieces.
func (t *Tokenizer) encode(text string) (ids []int32, chars, unknownChars int) {
	s := Normalize(text)
	// off[i] is the byte offset of the i-th character; off[n] = len(s).
	off := make([]int, 0, len(s)+1)
	for i := range s {
		off = append(off, i)
	}
	n := len(off)
	off = append(off, len(s))
	if n == 0 {
		return nil, 0, 0
	}
	best := make([]float64, n+1)
	words := make([]int32, n+1)
	// matched[i] records whether any piece starts at character i; the
	// ones that do not start an unknown piece of one character.
	matched := make([]bool, n)
	for i := range n {
		for l := 1; l <= t.maxLen && i+l <= n; l++ {
			if _, ok := t.pieces[s[off[i]:off[i+l]]]; ok {
				matched[i] = true
				break
			}
		}
	}
	for end := 1; end <= n; end++ {
		for start := max(0, end-t.maxLen); start < end; start++ {
			var p piece
			if !matched[start] {
				if end-start != 1 {
					continue
				}
				p = piece{id: unknown}
			} else {
				var ok bool
				if p, ok = t.pieces[s[off[start]:off[end]]]; !ok {
					continue
				}
			}
			score := p.score + best[start]
			if best[end] == 0 || score >= best[end] {
				best[end] = score
				words[end] = p.id
			}
		}
	}
	var rev []int32
	for i := n; i > 0; i -= t.lengths[words[i]] {
		rev = append(rev, words[i])
		if words[i] == unknown && !blank(s[off[i-1]:off[i]]) {
			unknownChars++
		}
	}
	for i := range n {
		if !blank(s[off[i]:off[i+1]]) {
			chars++
		}
	}
	ids = make([]int32, 0, len(rev))
	prevUnknown := false
	for _, id := range rev {
		if !(prevUnknown && id == unknown) {
			ids = append(ids, id)
		}
		prevUnknown = id == unknown
	}
	slices.Reverse(ids)
	return ids, chars, unknownChars
}

// blank reports whether the character c is a separator or white space.
func blank(c string) bool {
	r, _ := utf8.DecodeRuneInString(c)
	return c == separator || unicode.IsSpace(r)
}
