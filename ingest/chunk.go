package ingest

import (
	"fmt"
	"maps"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/tokens"
	"github.com/pkoukk/tiktoken-go"
)

// encoding is the shared tokenizer (tokens.Encoding) chunks are measured with.
func encoding() (*tiktoken.Tiktoken, error) { return tokens.Encoding() }

// section is a run of text that chunks never cross: a Markdown section, a
// whole plain-text file, a record.
type section struct {
	path  []string // heading path, outermost first; empty when none
	lead  string   // line every chunk of the section starts with: its heading
	carry string   // line every chunk but the first starts with: a statute article's number
	body  string
}

// chunker cuts sections into chunks of at most max tokens.
type chunker struct {
	enc  *tiktoken.Tiktoken
	max  int
	seps map[string]int // token counts of separators
}

func newChunker(max int) (*chunker, error) {
	c := &chunker{max: max}
	return c, c.ready()
}

// ready loads the tokenizer, once: a run whose documents are all unchanged
// never needs it, and loading it is most of such a run's work.
func (c *chunker) ready() error {
	if c.enc != nil {
		return nil
	}
	enc, err := encoding()
	c.enc = enc
	return err
}

// version names the chunking rules; it is part of every document hash so
// that changing the chunk size re-chunks everything.
func (c *chunker) version() string {
	return fmt.Sprintf("chunk/2 %s max=%d", tokens.EncodingName, c.max)
}

func (c *chunker) count(s string) int { return len(c.encode(s)) }

// segmentBytes bounds the text encoded at once (see tokens.Encode).
const segmentBytes = tokens.SegmentBytes

// encode tokenizes s in segments (tokens.Encode): exact counts for ordinary
// text, never quadratic on long runs.
func (c *chunker) encode(s string) []int { return tokens.Encode(c.enc, s) }

// chunks cuts a document's sections into chunks numbered from 0. Sections
// with no body (a heading directly followed by a sub-heading) yield none;
// their heading lives on in the path of the sections below.
func (c *chunker) chunks(doc *kefu.Document, secs []section) []kefu.Chunk {
	var out []kefu.Chunk
	emit := func(heading string, parts []part) {
		for _, t := range parts {
			out = append(out, kefu.Chunk{
				ID:         fmt.Sprintf("%s#%d", doc.ID, len(out)),
				DocID:      doc.ID,
				Ordinal:    len(out),
				Type:       doc.Type,
				Title:      doc.Title,
				Source:     doc.Source,
				Locale:     doc.Locale,
				CustomerID: doc.CustomerID,
				Heading:    heading,
				Text:       t.text,
				Tokens:     t.tokens,
				Meta:       maps.Clone(doc.Meta),
			})
		}
	}
	for _, s := range secs {
		if strings.TrimSpace(s.body) == "" {
			continue
		}
		emit(strings.Join(s.path, " > "), c.split(s))
	}
	if len(out) == 0 && strings.TrimSpace(doc.Text) != "" {
		// Headings only: index them as text.
		emit("", c.split(section{body: doc.Text}))
	}
	return out
}

// part is a chunk's text and its token count.
type part struct {
	text   string
	tokens int
}

// split cuts one section into chunk texts of at most c.max tokens.
func (c *chunker) split(s section) []part {
	body := strings.TrimSpace(s.body)
	if body == "" {
		return nil
	}
	lead := strings.TrimSpace(s.lead)
	if lead != "" {
		lead += "\n\n"
	}
	leadTok := c.count(lead)
	if leadTok > c.max/2 {
		lead, leadTok = "", 0
	}
	// Counts add up across the lead and the carry line: both end in a line
	// break, which the tokenizer never joins with the text after it.
	budget := c.max - leadTok
	bodyTok := c.count(body)
	if s.carry == "" || bodyTok <= budget {
		parts := c.packBalanced(body, bodyTok, budget)
		for i := range parts {
			parts[i].text = lead + parts[i].text
			parts[i].tokens += leadTok
		}
		return parts
	}
	// A statute article: the first chunk starts with its own first lines,
	// the others repeat its number so each says what it belongs to.
	carry := strings.TrimSpace(s.carry) + "\n"
	carryTok := c.count(carry)
	if carryTok > budget/2 {
		carry, carryTok = "", 0
	}
	budget -= carryTok
	parts := c.packBalanced(body, bodyTok, budget)
	for i := range parts {
		if i > 0 {
			parts[i].text = carry + parts[i].text
			parts[i].tokens += carryTok
		}
		parts[i].text = lead + parts[i].text
		parts[i].tokens += leadTok
	}
	return parts
}

// packBalanced packs body into chunks of at most budget tokens, as few as
// pack makes and as even in size as the pieces allow: a field or section a
// little over the limit becomes two halves rather than a full chunk and a
// scrap, whose few words would rank on the document's title alone.
func (c *chunker) packBalanced(body string, bodyTok, budget int) []part {
	parts := c.pack(c.pieces(body, bodyTok, budget, levelParagraph, "", nil), budget)
	n := len(parts)
	if n < 2 || parts[n-1].tokens >= budget/2 {
		return parts
	}
	step := max(1, budget/16)
	for b := (bodyTok + n - 1) / n; b < budget; b += step {
		if p := c.pack(c.pieces(body, bodyTok, b, levelParagraph, "", nil), b); len(p) <= n {
			return p
		}
	}
	return parts
}

// Split levels, coarsest first.
const (
	levelParagraph = iota
	levelLine
	levelSentence
	levelClause
	levelWord
	levelRune
)

// piece is a unit of text no longer than the budget, with the separator
// that stood before it in the source.
type piece struct {
	sep    string
	text   string
	tokens int
}

// pieces splits text into pieces of at most budget tokens, at the coarsest
// level that works: paragraphs, then lines, sentences, words, and as a last
// resort between characters (never inside one).
// n is the token count of text, or -1 if not known yet.
func (c *chunker) pieces(text string, n, budget, level int, sep string, out []piece) []piece {
	if n < 0 {
		n = c.count(text)
	}
	if n <= budget {
		return append(out, piece{sep, text, n})
	}
	for ; level < levelRune; level++ {
		parts := splitLevel(text, level)
		if len(parts) < 2 {
			continue
		}
		for i, p := range parts {
			if i == 0 {
				p.sep = sep
			}
			out = c.pieces(p.text, -1, budget, level+1, p.sep, out)
		}
		return out
	}
	return c.hardSplit(text, budget, sep, out)
}

// hardSplit cuts text between characters into the longest prefixes that
// fit the budget. It encodes a window of the text once and cuts after the
// budget-th token, backed off to the start of a character, so that a
// long run of text with no spaces or punctuation stays linear to cut.
func (c *chunker) hardSplit(text string, budget int, sep string, out []piece) []piece {
	for text != "" {
		window := text[:runeStart(text, min(len(text), budget*8))]
		if window == "" {
			_, n := utf8.DecodeRuneInString(text)
			window = text[:n]
		}
		cut := len(window)
		if toks := c.encode(window); len(toks) > budget {
			cut = 0
			for _, tok := range toks[:budget] {
				cut += len(c.enc.Decode([]int{tok}))
			}
			cut = runeStart(window, min(cut, len(window)))
			for cut > 0 && c.count(window[:cut]) > budget {
				_, n := utf8.DecodeLastRuneInString(window[:cut])
				cut -= n
			}
		}
		if cut == 0 {
			// One character worth more tokens than the budget: keep it whole.
			_, cut = utf8.DecodeRuneInString(window)
		}
		head := text[:cut]
		out = append(out, piece{sep, head, c.count(head)})
		text, sep = text[cut:], ""
	}
	return out
}

// runeStart backs i off to the start of the character it falls in.
func runeStart(s string, i int) int {
	for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

// splitLevel splits text at one level, keeping the separators.
func splitLevel(text string, level int) []piece {
	var out []piece
	switch level {
	case levelParagraph, levelLine:
		sep := "\n"
		if level == levelParagraph {
			sep = "\n\n"
		}
		for i, p := range strings.Split(text, sep) {
			if strings.TrimSpace(p) == "" {
				continue
			}
			s := sep
			if i == 0 || len(out) == 0 {
				s = ""
			}
			out = append(out, piece{sep: s, text: p})
		}
	case levelSentence:
		return splitSentences(text)
	case levelClause:
		return splitClauses(text)
	case levelWord:
		for _, w := range strings.Fields(text) {
			s := " "
			if len(out) == 0 {
				s = ""
			}
			out = append(out, piece{sep: s, text: w})
		}
	}
	return out
}

// splitSentences splits after . ! ? followed by a space, and after the
// Chinese 。！？；, keeping closing quotes and brackets with their sentence.
func splitSentences(text string) []piece {
	var out []piece
	start, sep := 0, ""
	i := 0
	for i < len(text) {
		r, n := utf8.DecodeRuneInString(text[i:])
		i += n
		cjk := strings.ContainsRune("。！？；", r)
		if !cjk && !strings.ContainsRune(".!?", r) {
			continue
		}
		// Take closing punctuation and repeated marks ("?!", "。」").
		for i < len(text) {
			r2, n2 := utf8.DecodeRuneInString(text[i:])
			if !strings.ContainsRune(".!?。！？；\"'”’」』）)》】", r2) {
				break
			}
			i += n2
		}
		end := i
		for i < len(text) {
			r2, n2 := utf8.DecodeRuneInString(text[i:])
			if !unicode.IsSpace(r2) {
				break
			}
			i += n2
		}
		if !cjk && i == end && i < len(text) {
			continue // "5.3", "e.g.x": not a sentence end
		}
		out = append(out, piece{sep: sep, text: text[start:end]})
		sep = text[end:i]
		start = i
	}
	if start < len(text) {
		out = append(out, piece{sep: sep, text: text[start:]})
	}
	return out
}

// splitClauses splits a long Chinese sentence after its commas and colons
// (，、：), keeping the marks with the clause they end.
func splitClauses(text string) []piece {
	var out []piece
	start := 0
	for i, r := range text {
		if r == '，' || r == '、' || r == '：' {
			end := i + utf8.RuneLen(r)
			if end < len(text) {
				out = append(out, piece{text: text[start:end]})
				start = end
			}
		}
	}
	if start < len(text) {
		out = append(out, piece{text: text[start:]})
	}
	return out
}

// pack joins consecutive pieces, with their separators, into texts of at
// most budget tokens, each with its exact count. Token counts are nearly
// additive (a line break can merge with the punctuation before it, which
// only lowers the count), so pieces are joined on the sum of their counts
// and each text is counted once; the rare text that the sum let run over
// the budget is packed again, counting every join.
func (c *chunker) pack(ps []piece, budget int) []part {
	var out []part
	for i := 0; i < len(ps); {
		j, est := i+1, ps[i].tokens
		for j < len(ps) {
			add := c.sepTokens(ps[j].sep) + ps[j].tokens
			if est+add > budget {
				break
			}
			est += add
			j++
		}
		var b strings.Builder
		b.WriteString(ps[i].text)
		for _, p := range ps[i+1 : j] {
			b.WriteString(p.sep)
			b.WriteString(p.text)
		}
		text := strings.TrimSpace(b.String())
		if text == "" {
			i = j
			continue
		}
		n := ps[i].tokens
		if j-i > 1 || text != ps[i].text {
			n = c.count(text)
		}
		if n <= budget || j-i == 1 {
			out = append(out, part{text, n})
		} else {
			out = append(out, c.packExact(ps[i:j], budget)...)
		}
		i = j
	}
	return out
}

// sepTokens counts the tokens of a separator, remembering the answer.
func (c *chunker) sepTokens(sep string) int {
	if n, ok := c.seps[sep]; ok {
		return n
	}
	n := c.count(sep)
	if c.seps == nil {
		c.seps = map[string]int{}
	}
	c.seps[sep] = n
	return n
}

// packExact is pack counting every join.
func (c *chunker) packExact(ps []piece, budget int) []part {
	var out []part
	cur := ""
	for _, p := range ps {
		if cur == "" {
			cur = p.text
			continue
		}
		cand := cur + p.sep + p.text
		if c.count(cand) <= budget {
			cur = cand
			continue
		}
		if t := strings.TrimSpace(cur); t != "" {
			out = append(out, part{t, c.count(t)})
		}
		cur = p.text
	}
	if t := strings.TrimSpace(cur); t != "" {
		out = append(out, part{t, c.count(t)})
	}
	return out
}
