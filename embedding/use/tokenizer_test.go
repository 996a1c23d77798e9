package use

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// toyVocab has the six reserved entries and a few pieces, one with a null
// score as the real vocabulary has.
const toyVocab = `[["\ufffd",0],["<s>",0],["</s>",0],["x1",0],["x2",0],["x3",0],
["\u2581",-2],["\u2581the",-3],["\u2581re",-5],["turn",-6],["\u2581return",-7],["s",-3],["r",-8],["e",-8],["t",-8],["u",-8],["n",-8],[":",null]]`

func toyTokenizer(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := NewTokenizer([]byte(toyVocab))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestEncodeToy(t *testing.T) {
	tok := toyTokenizer(t)
	for _, c := range []struct {
		text string
		want []int32
	}{
		{"", nil},
		{"return", []int32{10}},             // ▁return (-7) beats ▁re + turn (-11)
		{"the returns", []int32{7, 10, 11}}, // ▁the ▁return s
		{"the 退款", []int32{7, 6, 0}},        // two unknown characters merge into one piece
		{"ｔｈｅ", []int32{7}},                 // NFKC: fullwidth letters are letters
		{"re:", []int32{8, 17}},             // a null score counts as 0
	} {
		if got := tok.Encode(c.text); !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}

func TestNormalizeBounds(t *testing.T) {
	if got := Normalize(""); got != "" {
		t.Errorf("Normalize(\"\") = %q", got)
	}
	if got := Normalize("a b"); got != "\u2581a\u2581b" {
		t.Errorf("Normalize(\"a b\") = %q", got)
	}
	long := strings.Repeat("ab ", 10*MaxChars)
	if n := utf8.RuneCountInString(Normalize(long)); n != MaxChars {
		t.Errorf("a %d-character text normalises to %d characters, want %d", len(long), n, MaxChars)
	}
	if got := Normalize("a\xffb"); got != "\u2581a\ufffdb" {
		t.Errorf("invalid UTF-8: Normalize = %q", got)
	}
}

func TestNewTokenizerRejects(t *testing.T) {
	for _, v := range []string{``, `{}`, `[["a",1]]`, `[["\ufffd",0],["<s>",0],["</s>",0],["x1",0],["x2",0],["x3",0],["a","b"]]`,
		`[["<unk>",0],["<s>",0],["</s>",0],["x1",0],["x2",0],["x3",0],["a",-1]]`} {
		if _, err := NewTokenizer([]byte(v)); err == nil {
			t.Errorf("NewTokenizer(%s) succeeded", v)
		}
	}
}

// FuzzEncode checks, on the real vocabulary when present and on the toy
// one otherwise, that any text tokenises without failing into valid ids,
// that the pieces spell the normalised text back (unknown ones aside), and
// that no two unknown pieces are adjacent.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "How do I return shoes?", "退款需要多久？", "emoji 😀", "a\xffb", "  ", "\u2581\u2581", "ﬁ ① ＦＵ", strings.Repeat("z", 300)} {
		f.Add(s)
	}
	tok := toyTokenizer(f)
	var pieces []string
	if b, err := os.ReadFile(filepath.Join(modelDir(), "vocab.json")); err == nil {
		if tok, err = NewTokenizer(b); err != nil {
			f.Fatal(err)
		}
	}
	pieces = make([]string, len(tok.lengths))
	for s, p := range tok.pieces {
		pieces[p.id] = s
	}
	f.Fuzz(func(t *testing.T, text string) {
		ids, chars, unknownChars := tok.encode(text)
		norm := Normalize(text)
		if len(ids) > utf8.RuneCountInString(norm) {
			t.Fatalf("%d pieces for %d characters", len(ids), utf8.RuneCountInString(norm))
		}
		if unknownChars > chars {
			t.Fatalf("%d unknown characters of %d", unknownChars, chars)
		}
		var b strings.Builder
		for i, id := range ids {
			if id < 0 || int(id) >= len(pieces) || (id != unknown && id < reservedPieces) {
				t.Fatalf("piece id %d out of range", id)
			}
			if id == unknown {
				if i > 0 && ids[i-1] == unknown {
					t.Fatalf("adjacent unknown pieces in %v", ids)
				}
				b.WriteString("\x00")
				continue
			}
			b.WriteString(pieces[id])
		}
		// Known pieces appear in the normalised text in order.
		rest := norm
		for _, part := range strings.Split(b.String(), "\x00") {
			k := strings.Index(rest, part)
			if k < 0 {
				t.Fatalf("pieces %q do not spell %q", b.String(), norm)
			}
			rest = rest[k+len(part):]
		}
	})
}
