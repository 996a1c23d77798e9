package ingest

import (
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kefuhq/kefu"
)

func newTestChunker(t *testing.T, max int) *chunker {
	t.Helper()
	c, err := newChunker(max)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChunkSizes(t *testing.T) {
	english := strings.Repeat("Opened items in good condition can be returned within thirty days of delivery. ", 40)
	chinese := strings.Repeat("签收后第8天到第30天，已拆封但状态良好的商品仍然可以退货。如果原包装缺失，需要收取10%的折旧费！", 30)
	unbroken := strings.Repeat("鹿米家居数码", 300) // no punctuation, no spaces
	words := strings.Repeat("supercalifragilistic ", 400)
	lines := strings.Repeat("- Alipay and WeChat Pay: 1-3 business days\n", 60)
	tests := []struct {
		name      string
		max       int
		sec       section
		minChunks int
	}{
		{"short text stays whole", 350, section{lead: "## Refunds", body: "Refunds take 3 days."}, 1},
		{"English sentences", 64, section{lead: "## Opened items", body: english}, 10},
		{"Chinese sentences", 64, section{lead: "## 已拆封", body: chinese}, 10},
		{"no punctuation: split between characters", 40, section{body: unbroken}, 10},
		{"words", 32, section{body: words}, 10},
		{"lines", 48, section{body: lines}, 10},
		{"paragraphs", 64, section{body: english + "\n\n" + chinese}, 10},
		{"record with carry line", 48, section{carry: "Order W1", body: lines}, 10},
		{"heading longer than half the budget is not repeated", 32, section{lead: "## " + strings.Repeat("very long heading ", 10), body: english}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestChunker(t, tt.max)
			parts := c.split(tt.sec)
			if len(parts) < tt.minChunks {
				t.Fatalf("got %d chunks, want at least %d", len(parts), tt.minChunks)
			}
			var joined strings.Builder
			for i, pt := range parts {
				p := pt.text
				if n := c.count(p); n > tt.max || n != pt.tokens {
					t.Errorf("chunk %d has %d tokens (said %d), max %d: %q", i, n, pt.tokens, tt.max, p)
				}
				if !utf8.ValidString(p) {
					t.Errorf("chunk %d is not valid UTF-8", i)
				}
				if tt.sec.lead != "" && c.count(tt.sec.lead) <= tt.max/2 && !strings.HasPrefix(p, tt.sec.lead+"\n\n") {
					t.Errorf("chunk %d does not start with its heading: %q", i, p)
				}
				if tt.sec.carry != "" && i > 0 && !strings.HasPrefix(p, tt.sec.carry+"\n") {
					t.Errorf("chunk %d does not start with the record title: %q", i, p)
				}
				body := strings.TrimPrefix(p, tt.sec.lead+"\n\n")
				if i > 0 {
					body = strings.TrimPrefix(body, tt.sec.carry+"\n")
				}
				joined.WriteString(body)
			}
			// Nothing is lost: the chunks hold every non-space character.
			if got, want := squeeze(joined.String()), squeeze(tt.sec.body); got != want {
				t.Errorf("chunks lost text: got %d characters, want %d", len(got), len(want))
			}
		})
	}
}

// squeeze drops white space.
func squeeze(s string) string { return strings.Join(strings.Fields(s), "") }

func TestSplitNeverBreaksCharacters(t *testing.T) {
	c := newTestChunker(t, minChunkTokens)
	// Emoji and rare Han characters take several tokens each, so token
	// boundaries fall inside them.
	text := strings.Repeat("𠀋😀龘", 200)
	for budget := 1; budget < 12; budget++ {
		for i, p := range c.hardSplit(text, budget, "", nil) {
			if !utf8.ValidString(p.text) {
				t.Fatalf("budget %d: piece %d is not valid UTF-8: %q", budget, i, p.text)
			}
		}
	}
}

func TestSplitSentences(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Version 5.3 is out. Update now!", []string{"Version 5.3 is out.", "Update now!"}},
		{"Really?! Yes.", []string{"Really?!", "Yes."}},
		{"退货期限是多少？30天。请保留包装；谢谢", []string{"退货期限是多少？", "30天。", "请保留包装；", "谢谢"}},
		{"他说：“可以退。”然后走了。", []string{"他说：“可以退。”", "然后走了。"}},
		{"no end", []string{"no end"}},
	}
	for _, tt := range tests {
		var got []string
		for _, p := range splitSentences(tt.in) {
			got = append(got, p.text)
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("splitSentences(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestChunksOfDocument(t *testing.T) {
	md, err := parseMarkdown(cleanText(`# Returns and refunds

Intro text.

## Opened items

Opened items can be returned.

### Hygiene

Sealed items only.

## Empty section
## Exchanges

Exchanges within 30 days.
`), true)
	if err != nil {
		t.Fatal(err)
	}
	doc := kefu.Document{ID: "p.md", Type: kefu.TypePolicy, Title: "Returns", Source: "p.md", Locale: "en", Text: md.body, Meta: map[string]string{"version": "2"}}
	chunks := newTestChunker(t, 350).chunks(&doc, md.sections)
	want := []struct{ heading, start string }{
		{"Returns and refunds", "# Returns and refunds\n\nIntro text."},
		{"Returns and refunds > Opened items", "## Opened items\n\nOpened items"},
		{"Returns and refunds > Opened items > Hygiene", "### Hygiene\n\nSealed"},
		{"Returns and refunds > Exchanges", "## Exchanges\n\nExchanges"},
	}
	if len(chunks) != len(want) {
		t.Fatalf("got %d chunks, want %d: %+v", len(chunks), len(want), chunks)
	}
	for i, w := range want {
		c := chunks[i]
		if c.Heading != w.heading || !strings.HasPrefix(c.Text, w.start) {
			t.Errorf("chunk %d: heading %q text %q, want %q / %q", i, c.Heading, c.Text, w.heading, w.start)
		}
		if c.ID != "p.md#"+string(rune('0'+i)) || c.Ordinal != i || c.DocID != "p.md" {
			t.Errorf("chunk %d: ID %q ordinal %d doc %q", i, c.ID, c.Ordinal, c.DocID)
		}
		if c.Type != doc.Type || c.Title != doc.Title || c.Source != doc.Source || c.Locale != doc.Locale || c.Meta["version"] != "2" {
			t.Errorf("chunk %d does not repeat its document's fields: %+v", i, c)
		}
		if c.Tokens == 0 || c.Tokens > 350 {
			t.Errorf("chunk %d: %d tokens", i, c.Tokens)
		}
	}
}

func TestChunksHeadingsOnly(t *testing.T) {
	md, _ := parseMarkdown("# Title\n## Sub", false)
	doc := kefu.Document{ID: "h.md", Text: md.body}
	chunks := newTestChunker(t, 350).chunks(&doc, md.sections)
	if len(chunks) != 1 || chunks[0].Text != "# Title\n## Sub" {
		t.Fatalf("chunks = %+v", chunks)
	}
}

func TestCountSegments(t *testing.T) {
	c := newTestChunker(t, 350)
	texts := []string{
		strings.Repeat("Opened items can be returned within 30 days.\n\n", 60),
		strings.Repeat("签收后30天内可以退货，“不支持7天无理由退货”的商品除外。\n\n- 支付宝：1-3个工作日\n", 40),
	}
	for _, p := range []string{"testdata/shop/policies/returns.en.md", "testdata/shop/policies/shipping.md", "testdata/shop/help.html"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(b))
	}
	for i, s := range texts {
		if got, want := c.count(s), len(c.enc.EncodeOrdinary(s)); got != want {
			t.Errorf("text %d: count %d, tokenizer %d", i, got, want)
		}
	}
	// A run with nowhere to cut is counted in segments, a token or so high
	// per segment, instead of in time quadratic in its length.
	for _, run := range []string{
		strings.Repeat("鹿米家居数码", 2000),
		"| Jiangsu, Zhejiang, Shanghai" + strings.Repeat(" ", 6000) + "| 1-2 |",
	} {
		got, want := c.count(run), len(c.enc.EncodeOrdinary(run))
		if got < want || got > want+len(run)/(segmentBytes/2) {
			t.Errorf("unbroken run: count %d, tokenizer %d", got, want)
		}
		if d := c.enc.Decode(c.encode(run)); d != run {
			t.Error("segmented tokens do not decode to the text")
		}
	}
}

// TestSplitBalances checks that a section a little over the chunk size is
// cut into parts of about equal size, not a full chunk and a scrap.
func TestSplitBalances(t *testing.T) {
	c := newTestChunker(t, 100)
	body := strings.Repeat("保修政策：整机包修8年，内胆及主要部件保修8年。", 4) // 104 tokens: 78 + 26 unbalanced
	total := c.count(body)
	if total <= 100 || total > 160 {
		t.Fatalf("test body has %d tokens, want a little over 100", total)
	}
	parts := c.split(section{body: body})
	if len(parts) != 2 {
		t.Fatalf("%d parts, want 2", len(parts))
	}
	for _, p := range parts {
		if p.tokens > 100 || p.tokens < total/3 {
			t.Errorf("part of %d tokens (of %d): %q", p.tokens, total, p.text)
		}
	}
	if squeeze(parts[0].text+parts[1].text) != squeeze(body) {
		t.Error("the parts do not add up to the body")
	}
}

// FuzzChunker cuts any text, as one section or as Markdown sections, at
// any chunk size: no chunk over the size, none empty or invalid UTF-8,
// ids unique, and every word of the text in some chunk.
func FuzzChunker(f *testing.F) {
	f.Add("Returns are accepted within 30 days.\n\nRefunds take 5 days.", 32)
	f.Add("# 退货\n\n七天无理由退货。\n\n## 运费\n\n运费由买家承担。", 48)
	f.Add(strings.Repeat("word ", 500), 33)
	f.Add(strings.Repeat("退", 2000), 40)
	f.Add("第一条 本规则适用于全部商品。\n第二条 退款在七日内完成。", 64)
	f.Fuzz(func(t *testing.T, text string, size int) {
		if len(text) > 1<<14 {
			return // quick per input
		}
		size = minChunkTokens + int(uint(size)%200)
		c, err := newChunker(size)
		if err != nil {
			t.Fatal(err)
		}
		body := cleanText(strings.ToValidUTF8(text, ""))
		secs := []section{{body: body}}
		if md, err := parseMarkdown(body, true); err == nil && len(md.sections) > 0 {
			secs = md.sections
		}
		doc := kefu.Document{ID: "p.md", Title: "Policy", Type: kefu.TypePolicy, Text: body}
		chunks := c.chunks(&doc, secs)
		ids := map[string]bool{}
		var all strings.Builder
		for _, ch := range chunks {
			if ch.Tokens > size || strings.TrimSpace(ch.Text) == "" || !utf8.ValidString(ch.Text) {
				t.Fatalf("chunk %s: %d tokens (max %d): %q", ch.ID, ch.Tokens, size, ch.Text)
			}
			if ids[ch.ID] {
				t.Fatalf("chunk id %s twice", ch.ID)
			}
			ids[ch.ID] = true
			all.WriteString(ch.Text)
			all.WriteByte(' ')
		}
		joined := strings.Join(strings.Fields(all.String()), "")
		for _, s := range secs {
			for _, w := range strings.Fields(s.body) {
				if utf8.RuneCountInString(w) <= 16 && !strings.Contains(joined, w) {
					t.Fatalf("word %q of the text is in no chunk", w)
				}
			}
		}
	})
}
