package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/tokenize"
	"golang.org/x/text/encoding/simplifiedchinese"
	xunicode "golang.org/x/text/encoding/unicode"
	"golang.org/x/text/unicode/norm"
)

// errNotText reports a file that is neither UTF-8, UTF-16 nor GB18030.
var errNotText = errors.New("not UTF-8 text")

// decodeText returns the text of a file. UTF-8 is expected; a byte-order
// mark selects UTF-16, and other input is tried as GB18030, which Chinese
// spreadsheet software commonly writes.
func decodeText(b []byte) (string, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		b = b[3:]
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		out, err := xunicode.UTF16(xunicode.BigEndian, xunicode.UseBOM).NewDecoder().Bytes(b)
		if err != nil || !utf8.Valid(out) {
			return "", errNotText
		}
		return string(out), nil
	}
	if utf8.Valid(b) {
		return string(b), nil
	}
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
	if err != nil || !utf8.Valid(out) || bytes.ContainsRune(out, utf8.RuneError) {
		return "", errNotText
	}
	return string(out), nil
}

// cleanText normalises text for indexing: Unicode NFC, "\n" line ends, no
// control or zero-width characters, no trailing spaces, at most one blank
// line in a row and none at either end. Leading indentation stays, as it
// can mean something in Markdown.
func cleanText(s string) string {
	s = norm.NFC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	blank := 0
	for line := range strings.Lines(strings.ReplaceAll(s, "\r\n", "\n")) {
		line = strings.TrimRightFunc(stripControl(line), unicode.IsSpace)
		if line == "" {
			blank++
			continue
		}
		if b.Len() > 0 {
			if blank > 0 {
				b.WriteString("\n\n")
			} else {
				b.WriteByte('\n')
			}
		}
		blank = 0
		b.WriteString(line)
	}
	return b.String()
}

// stripControl drops control and zero-width characters, keeping tabs and
// turning lone carriage returns into line breaks.
func stripControl(s string) string {
	clean := true
	for _, r := range s {
		if dropRune(r) || r == '\r' || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\r':
			b.WriteByte('\n')
		case dropRune(r), r == utf8.RuneError:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func dropRune(r rune) bool {
	switch r {
	case '\t', '\n':
		return false
	case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff':
		return true
	}
	return unicode.IsControl(r)
}

// normLocale maps a language tag to kefu's locales: "en", "zh" or "".
func normLocale(tag string) string {
	tag = strings.ToLower(strings.TrimSpace(tag))
	tag = strings.ReplaceAll(tag, "_", "-")
	lang, _, _ := strings.Cut(tag, "-")
	switch lang {
	case "en", "zh":
		return lang
	case "cn", "chinese", "中文":
		return "zh"
	case "english", "英文":
		return "en"
	}
	return ""
}

// localeOfName reads a locale infix from a file name: "returns.en.md".
func localeOfName(name string) string {
	parts := strings.Split(strings.ToLower(name), ".")
	for _, p := range parts[1 : len(parts)-1] {
		switch p {
		case "en", "en-us", "en-gb", "zh", "zh-cn", "zh-hans", "zh-tw", "zh-hk", "zh-hant":
			return normLocale(p)
		}
	}
	return ""
}

// detectLocale guesses the locale of text: "zh" when Han characters are
// more than 30% of its letters, "en" when nearly all its letters are Latin,
// "" for anything else (mixed, other scripts, no letters).
func detectLocale(s string) string {
	var letters, han, latin int
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
				letters++
				latin++
			}
			continue
		}
		if !unicode.IsLetter(r) {
			continue
		}
		letters++
		switch {
		case unicode.Is(unicode.Han, r):
			han++
		case unicode.Is(unicode.Latin, r):
			latin++
		}
	}
	switch {
	case letters == 0:
		return ""
	case han*10 > letters*3:
		return "zh"
	case latin*50 >= letters*49:
		return "en"
	}
	return ""
}

// typeOfName reads a document type from a file name: "orders.jsonl",
// "product-catalog.csv", "faq.md". Words are matched at their start, so
// "orders" counts and "border" does not.
func typeOfName(name string) string {
	lower := strings.ToLower(name)
	words := strings.FieldsFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) || tokenize.IsCJK(r) })
	has := func(prefixes ...string) bool {
		for _, w := range words {
			for _, p := range prefixes {
				if strings.HasPrefix(w, p) {
					return true
				}
			}
		}
		return false
	}
	switch {
	case has("order") || strings.Contains(lower, "订单"):
		return kefu.TypeOrder
	case has("product", "catalog", "sku") || strings.Contains(lower, "商品") || strings.Contains(lower, "产品"):
		return kefu.TypeProduct
	case has("faq") || strings.Contains(lower, "常见问题") || strings.Contains(lower, "问答"):
		return kefu.TypeFAQ
	}
	return ""
}

// titleOfName makes a title from a file name: "returns-policy.en.md" is
// "Returns policy".
func titleOfName(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	stem, _, _ := strings.Cut(name, ".")
	if stem == "" {
		stem = name
	}
	t := strings.Join(strings.FieldsFunc(stem, func(r rune) bool { return r == '-' || r == '_' || unicode.IsSpace(r) }), " ")
	if t == "" {
		return name
	}
	r, n := utf8.DecodeRuneInString(t)
	return string(unicode.ToUpper(r)) + t[n:]
}

// isDocType reports whether t is one of kefu.DocTypes.
func isDocType(t string) bool { return slices.Contains(kefu.DocTypes, t) }

// hashDocument hashes everything that decides a document's chunks: its
// fields and the chunker that cuts them, so a document is re-chunked when
// either changes.
func hashDocument(d *kefu.Document, chunker string) string {
	h := sha256.New()
	put := func(s string) { fmt.Fprintf(h, "%d:%s;", len(s), s) }
	put(d.Type)
	put(d.Title)
	put(d.Locale)
	put(d.CustomerID)
	put(d.Text)
	keys := make([]string, 0, len(d.Meta))
	for k := range d.Meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		put(k)
		put(d.Meta[k])
	}
	put(chunker)
	return hex.EncodeToString(h.Sum(nil))
}
