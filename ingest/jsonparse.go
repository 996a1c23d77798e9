package ingest

import (
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// errSlowPath makes parseJSON give up on input it does not handle alone;
// the caller then reads the file with encoding/json, which reports errors
// precisely (and streams the records before one).
var errSlowPath = errors.New("not handled by the fast parser")

// parseJSON decodes one JSON value that makes the whole of text (white
// space aside) into the types decodeValue returns, with the same offsets.
// It is encoding/json's token-by-token decoding made several times faster
// for what shops' files are: valid JSON. Any syntax error, any value
// nested deeper than maxDepth, returns errSlowPath, never a partial value.
func parseJSON(text string) (any, error) {
	p := jsonParser{s: text}
	p.space()
	v, ok := p.value(0)
	if !ok {
		return nil, errSlowPath
	}
	p.space()
	if p.i != len(p.s) {
		return nil, errSlowPath
	}
	return v, nil
}

type jsonParser struct {
	s string
	i int
}

func (p *jsonParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (any, bool) {
	if p.i >= len(p.s) {
		return nil, false
	}
	switch c := p.s[p.i]; {
	case c == '{':
		if depth >= maxDepth {
			return nil, false
		}
		return p.object(depth)
	case c == '[':
		if depth >= maxDepth {
			return nil, false
		}
		return p.array(depth)
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case strings.HasPrefix(p.s[p.i:], "true"):
		p.i += 4
		return true, true
	case strings.HasPrefix(p.s[p.i:], "false"):
		p.i += 5
		return false, true
	case strings.HasPrefix(p.s[p.i:], "null"):
		p.i += 4
		return nil, true
	}
	return nil, false
}

func (p *jsonParser) object(depth int) (any, bool) {
	p.i++ // {
	obj := object{}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return obj, true
	}
	for {
		p.space()
		off := p.i
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, false
		}
		k, ok := p.str()
		if !ok {
			return nil, false
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, false
		}
		p.i++
		p.space()
		v, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		obj = append(obj, field{k.(string), v, int64(off)})
		p.space()
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return obj, true
		default:
			return nil, false
		}
	}
}

func (p *jsonParser) array(depth int) (any, bool) {
	p.i++ // [
	arr := array{}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return arr, true
	}
	for {
		p.space()
		off := p.i
		v, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		arr = append(arr, elem{v, int64(off)})
		p.space()
		if p.i >= len(p.s) {
			return nil, false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return arr, true
		default:
			return nil, false
		}
	}
}

// str reads a string. One without escapes and in valid UTF-8 is a slice
// of the input; any other is decoded by encoding/json, so that escapes and
// invalid bytes come out exactly as there.
func (p *jsonParser) str() (any, bool) {
	start := p.i
	p.i++ // "
	plain := true
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			lit := p.s[start:p.i]
			if plain {
				return lit[1 : len(lit)-1], true
			}
			var out string
			if err := json.Unmarshal([]byte(lit), &out); err != nil {
				return nil, false
			}
			return out, true
		case c == '\\':
			plain = false
			p.i += 2
		case c < 0x20:
			return nil, false
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, n := utf8.DecodeRuneInString(p.s[p.i:])
			if r == utf8.RuneError && n == 1 {
				plain = false
			}
			p.i += n
		}
	}
	return nil, false
}

// number reads a number as json.Number, checking JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jsonParser) number() (any, bool) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.s[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.s) && p.s[p.i] == '0':
		p.i++
	case digits() == 0:
		return nil, false
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, false
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	return json.Number(p.s[start:p.i]), true
}
