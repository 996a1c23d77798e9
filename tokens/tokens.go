// Package tokens counts language-model tokens the way OpenAI's cl100k_base
// encoding does, offline (the BPE ranks are compiled into the binary), for
// everything that works to a token budget: chunk sizes at ingest, the
// history and context that fit in a prompt.
package tokens

import (
	"fmt"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"
)

// EncodingName is the tokenizer kefu measures text with.
const EncodingName = "cl100k_base"

// cl100k is built on first use and shared: building it parses the embedded
// BPE ranks, which takes tens of milliseconds and about 11 MiB of heap.
var cl100k struct {
	once sync.Once
	enc  *tiktoken.Tiktoken
	err  error
}

// Encoding returns the shared encoder, built on first use. tiktoken's
// loader setting is process-wide; kefu sets it here and nowhere else.
func Encoding() (*tiktoken.Tiktoken, error) {
	cl100k.once.Do(func() {
		// The offline loader reads the ranks compiled into the binary
		// (loader.go) instead of downloading them.
		tiktoken.SetBpeLoader(offlineLoader{})
		cl100k.enc, cl100k.err = tiktoken.GetEncoding(EncodingName)
		if cl100k.err != nil {
			cl100k.err = fmt.Errorf("load tokenizer %s: %w", EncodingName, cl100k.err)
		}
	})
	return cl100k.enc, cl100k.err
}

// SegmentBytes bounds the text encoded at once. The tokenizer's BPE merge
// and its pre-splitting regular expression are quadratic in the length of
// a run of letters or of spaces, so a long Chinese passage without
// punctuation, or a wide padded table, must be cut first.
const SegmentBytes = 256

// Encode tokenizes s in segments of at most SegmentBytes, cut before white
// space or punctuation where there is some, else between characters. Cuts
// fall where the tokenizer splits anyway, so counts are exact for ordinary
// text and at most one token high per segment otherwise. The tokens still
// decode to s.
func Encode(enc *tiktoken.Tiktoken, s string) []int {
	var toks []int
	for s != "" {
		n := len(s)
		if n > SegmentBytes {
			n = segmentCut(s)
		}
		toks = append(toks, enc.EncodeOrdinary(s[:n])...)
		s = s[n:]
	}
	return toks
}

// segmentCut picks where to end the segment at the start of s, in its
// second half: best at the start of a line, then before a space, then
// before any other character that is not part of a word, else at a
// character start.
func segmentCut(s string) int {
	space, other := 0, 0
	for i := SegmentBytes; i > SegmentBytes/2; i-- {
		if !utf8.RuneStart(s[i]) {
			continue
		}
		r, _ := utf8.DecodeRuneInString(s[i:])
		switch {
		case s[i-1] == '\n' && !unicode.IsSpace(r):
			return i
		case space == 0 && r == ' ':
			space = i
		case other == 0 && !unicode.IsSpace(r) && !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsMark(r):
			other = i
		}
	}
	switch {
	case space > 0:
		return space
	case other > 0:
		return other
	}
	return runeStart(s, SegmentBytes)
}

// runeStart moves i back to the start of the character it falls in.
func runeStart(s string, i int) int {
	for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

// Count returns the number of tokens in s, or an error when the encoder
// cannot be built (a broken binary).
func Count(s string) (int, error) {
	enc, err := Encoding()
	if err != nil {
		return 0, err
	}
	return len(Encode(enc, s)), nil
}
