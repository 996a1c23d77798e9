package ingest

import (
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
)

// slowDecode decodes text as readJSON's fallback does: token by token.
func slowDecode(text string) (any, bool) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return v, true
}

// atLines replaces the offsets in v with the lines they fall on, which is
// all that offsets are used for.
func atLines(v any, text string, ls lines) any {
	switch v := v.(type) {
	case object:
		out := make(object, len(v))
		for i, f := range v {
			out[i] = field{f.key, atLines(f.val, text, ls), int64(ls.at(text, f.off))}
		}
		return out
	case array:
		out := make(array, len(v))
		for i, e := range v {
			out[i] = elem{atLines(e.val, text, ls), int64(ls.at(text, e.off))}
		}
		return out
	}
	return v
}

// checkSameJSON checks that parseJSON accepts what encoding/json accepts
// and decodes it the same, and refuses the rest.
func checkSameJSON(t *testing.T, text string) {
	t.Helper()
	fast, err := parseJSON(text)
	slow, ok := slowDecode(text)
	if err != nil {
		if ok {
			t.Errorf("fast parser refused %q, which encoding/json accepts", text)
		}
		return
	}
	if !ok {
		t.Fatalf("fast parser accepted %q, which encoding/json refuses", text)
	}
	ls := newLines(text)
	if a, b := atLines(fast, text, ls), atLines(slow, text, ls); !reflect.DeepEqual(a, b) {
		t.Errorf("%q:\nfast %#v\nslow %#v", text, a, b)
	}
}

func TestParseJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`{}`, `[]`, ` [ 1 , -2.5e+3 , 0 , 0.1 ] `, `{"a": {"b": [true, false, null]}}`,
		`"plain"`, `"esc\"aped \\ \/ \n \u00e9 \ud83d\ude00"`, `"bad \ud800 surrogate"`, "\"bad \xff byte\"",
		"{\"k\":\n  {\"x\": 1},\n \"j\": [\n {\"y\": \"z\"}\n]\n}",
		`{"商品": "电热水器", "价格": 1999}`,
		`01`, `1.`, `.5`, `+1`, `-`, `1e`, `1e+`, `NaN`, `tru`, `nul`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a: 1}`,
		`[1 2]`, `{"a":1}{"b":2}`, `"unterminated`, "\"tab\tinside\"", `"\x"`, `"\u12"`, `[`, `{`, ``, `  `,
		strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth),
		strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1),
	} {
		checkSameJSON(t, s)
	}
}

func FuzzParseJSONFast(f *testing.F) {
	addSeeds(f, "testdata/*/*.json")
	f.Add(`{"a": [1, "b", {"c": null}], "d": -0.5e3}`)
	f.Fuzz(func(t *testing.T, text string) {
		checkSameJSON(t, text)
	})
}
