package llm

import (
	"context"
	"iter"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/tokenize"
)

// Extractive answers by quoting. From the request's context passages it
// picks the sentences (or, in records, the lines) that share the most
// weighted terms with the question, keeps them in their source order, and
// marks each passage it quotes with [n]. It never writes a fact of its own,
// so its answers are as true as the shop's documents; it cannot combine
// facts or answer what no single sentence says.
type Extractive struct {
	// MaxSentences caps the quoted sentences (default 3).
	MaxSentences int
	// MaxRunes caps the answer's length before citations (default 600).
	MaxRunes int
}

// Name is the backend name reported with answers.
func (Extractive) Name() string { return "extractive" }

// IgnoresPrompt tells the pipeline not to render a model prompt for it: the
// extractive answerer reads the question and the passages only.
func (Extractive) IgnoresPrompt() bool { return true }

// Generate composes the answer and yields it one sentence at a time. It
// fails only when ctx is done. With no context it yields nothing.
func (e Extractive) Generate(ctx context.Context, req kefu.GenerateRequest) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for _, piece := range e.compose(req) {
			if err := ctx.Err(); err != nil {
				yield("", err)
				return
			}
			if !yield(piece, nil) {
				return
			}
		}
	}
}

// isRecord reports whether a chunk is a structured record, quoted line by
// line rather than sentence by sentence.
func isRecord(c kefu.Chunk) bool {
	return c.Type == kefu.TypeProduct || c.Type == kefu.TypeOrder || c.Type == kefu.TypeFAQ
}

type sentence struct {
	passage int // 0-based passage index
	pos     int // position within the passage
	text    string
	score   float64
}

// compose returns the answer's pieces: each quoted passage's sentences,
// followed by its [n] marker. Record lines and passages start on a new
// line; English sentences are joined by a space, Chinese ones directly.
func (e Extractive) compose(req kefu.GenerateRequest) []string {
	maxS := e.MaxSentences
	if maxS <= 0 {
		maxS = 3
	}
	maxR := e.MaxRunes
	if maxR <= 0 {
		maxR = 600
	}
	type unit struct {
		passage, pos int
		text         string
	}
	var units []unit
	for pi, h := range req.Context {
		for si, s := range splitSentences(h.Chunk.Text, isRecord(h.Chunk)) {
			units = append(units, unit{passage: pi, pos: si, text: s})
		}
	}
	texts := make([]string, len(units))
	for i, u := range units {
		texts[i] = u.text
	}
	question := req.Query
	if question == "" {
		question = req.Question
	}
	q := questionTerms(question, texts)
	quantity := asksQuantity(req.Question)
	// A record's name says which product or order it is, which retrieval
	// has settled; the question's other words pick the line ("waterproof" ->
	// "Water resistance: IPX4"). The names count for little in every passage,
	// so a policy line that merely mentions the product does not win either.
	names := map[string]bool{}
	for _, h := range req.Context {
		if isRecord(h.Chunk) {
			for t := range nameTerms(h.Chunk.Text) {
				names[t] = true
			}
		}
	}
	if len(names) > 0 {
		q = downweight(q, names, 0.2)
	}
	var cands []sentence
	for _, u := range units {
		score := overlap(q, u.text)
		if score == 0 {
			continue
		}
		if quantity && hasDigit(u.text) {
			score += 0.25
		}
		// Prefer the passages retrieval ranked higher and, slightly, earlier
		// sentences.
		if top := req.Context[0].Score; top > 0 {
			score *= 0.5 + 0.5*math.Min(1, req.Context[u.passage].Score/top)
		}
		score -= 0.005 * float64(u.pos)
		cands = append(cands, sentence{passage: u.passage, pos: u.pos, text: u.text, score: score})
	}
	if len(cands) == 0 && len(req.Context) > 0 {
		// Retrieval judged the passage relevant, but no sentence shares a term:
		// quote the passage's opening rather than nothing.
		for si, s := range splitSentences(req.Context[0].Chunk.Text, false) {
			if si == 2 {
				break
			}
			cands = append(cands, sentence{passage: 0, pos: si, text: s, score: 1 - float64(si)})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })

	var picked []sentence
	runes := 0
	for _, c := range cands {
		if len(picked) == maxS {
			break
		}
		if len(picked) > 0 && c.score < 0.5*picked[0].score {
			break
		}
		n := utf8.RuneCountInString(c.text)
		if len(picked) > 0 && runes+n > maxR {
			continue
		}
		// One passage at a time reads better: quote a second passage only
		// when its sentence scores nearly as well as the first and retrieval
		// ranked the passage nearly as high.
		if len(picked) > 0 && c.passage != picked[0].passage &&
			(c.score < 0.8*picked[0].score || req.Context[c.passage].Score < 0.75*req.Context[picked[0].passage].Score) {
			continue
		}
		picked = append(picked, c)
		runes += n
	}
	// Product and order records need their name line for the quote to make sense.
	picked = withRecordTitles(picked, req.Context, req.Locale)
	sort.SliceStable(picked, func(i, j int) bool {
		if picked[i].passage != picked[j].passage {
			return passageRank(picked, picked[i].passage) < passageRank(picked, picked[j].passage)
		}
		return picked[i].pos < picked[j].pos
	})

	var pieces []string
	for i, s := range picked {
		text := s.text
		if i > 0 {
			switch {
			case isRecord(req.Context[s.passage].Chunk) || picked[i-1].passage != s.passage:
				text = "\n" + text
			case req.Locale != "zh":
				text = " " + text
			}
		}
		if i == len(picked)-1 || picked[i+1].passage != s.passage {
			text += " [" + strconv.Itoa(s.passage+1) + "]"
		}
		pieces = append(pieces, text)
	}
	return pieces
}

// passageRank orders passages by their best picked sentence.
func passageRank(picked []sentence, passage int) int {
	for i, s := range picked {
		if s.passage == passage {
			return i
		}
	}
	return len(picked)
}

// withRecordTitles adds the name line of each quoted product or order
// record when it was not quoted already.
func withRecordTitles(picked []sentence, ctx []kefu.Hit, locale string) []sentence {
	seen := map[int]bool{}
	out := picked
	for _, s := range picked {
		if seen[s.passage] {
			continue
		}
		seen[s.passage] = true
		c := ctx[s.passage].Chunk
		if c.Type != kefu.TypeProduct && c.Type != kefu.TypeOrder {
			continue
		}
		lines := splitSentences(c.Text, true)
		title := titleLine(lines, locale)
		if title < 0 || hasPos(picked, s.passage, title) {
			continue
		}
		out = append(out, sentence{passage: s.passage, pos: title, text: lines[title]})
	}
	return out
}

// nameKeys are the record fields that name the record.
func isNameKey(key string) bool {
	key = strings.ToLower(strings.TrimSpace(key))
	return strings.HasPrefix(key, "name") || strings.HasPrefix(key, "title") || key == "sku" || key == "order id" || key == "id"
}

// titleLine returns the index of the record line that names it: the
// localised name for a Chinese reader ("Name (zh)"), else "Name", else the
// first line; -1 for no lines.
func titleLine(lines []string, locale string) int {
	best := -1
	for i, l := range lines {
		key, _, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		key = strings.ToLower(strings.TrimSpace(key))
		switch {
		case locale == "zh" && strings.HasPrefix(key, "name") && strings.Contains(key, "zh"):
			return i
		case key == "name" || key == "title" || key == "order id":
			if best < 0 {
				best = i
			}
		}
	}
	if best < 0 && len(lines) > 0 {
		best = 0
	}
	return best
}

// nameTerms are the terms of a record's naming lines.
func nameTerms(text string) map[string]bool {
	out := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		key, val, ok := strings.Cut(l, ":")
		if ok && isNameKey(key) {
			for _, t := range tokenize.Terms(val) {
				out[t] = true
			}
		}
	}
	return out
}

// downweight returns q with the weight of the terms in names multiplied by f.
func downweight(q map[string]float64, names map[string]bool, f float64) map[string]float64 {
	out := make(map[string]float64, len(q))
	for t, w := range q {
		if names[t] {
			w *= f
		}
		out[t] = w
	}
	return out
}

func hasPos(ss []sentence, passage, pos int) bool {
	for _, s := range ss {
		if s.passage == passage && s.pos == pos {
			return true
		}
	}
	return false
}

// splitSentences splits prose into sentences (English . ! ? followed by a
// space, Chinese 。！？；) and records into lines. Markdown heading lines and
// fragments too short to say anything are dropped.
func splitSentences(text string, record bool) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if record {
			out = append(out, line)
			continue
		}
		start := 0
		runes := []rune(line)
		for i, r := range runes {
			end := false
			switch r {
			case '。', '！', '？', '；':
				end = true
			case '.', '!', '?':
				end = i+1 == len(runes) || runes[i+1] == ' '
				// "e.g. " and "approx. " are not sentence ends.
				if end && r == '.' && i >= 3 && (strings.HasSuffix(string(runes[:i]), "e.g") || strings.HasSuffix(string(runes[:i]), "i.e")) {
					end = false
				}
			}
			if end {
				out = appendSentence(out, string(runes[start:i+1]))
				start = i + 1
			}
		}
		out = appendSentence(out, string(runes[start:]))
	}
	return out
}

func appendSentence(out []string, s string) []string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) < 4 {
		return out
	}
	return append(out, s)
}

// questionTerms weights the question's terms by how rare they are among
// the candidate sentences (a local IDF): in a returns passage "return" is
// everywhere and "earbuds" in one sentence, so "earbuds" decides. Single
// Chinese characters count a quarter of a word or bigram. Misspelt words
// match the sentence words one edit away through character trigrams, which
// overlap also checks.
func questionTerms(q string, sentences []string) map[string]float64 {
	df := map[string]int{}
	for _, s := range sentences {
		seen := map[string]bool{}
		for _, t := range tokenize.Terms(s) {
			if !seen[t] {
				seen[t] = true
				df[t]++
			}
		}
	}
	n := float64(len(sentences))
	out := map[string]float64{}
	for _, t := range tokenize.Tokens(q) {
		w := 1.0
		if t.Kind == tokenize.Unigram {
			w = 0.25
		}
		term := t.Text
		if df[term] == 0 && t.Kind == tokenize.Word {
			term = nearestWord(term, df)
		}
		out[term] = w * math.Log(1+(n+1)/(float64(df[term])+0.5))
	}
	return out
}

// nearestWord returns the context word one edit away from a question word
// that no sentence contains ("retrun" -> "return"), or the word itself.
func nearestWord(word string, vocab map[string]int) string {
	if len(word) < 4 {
		return word
	}
	best, bestDF := word, 0
	for v, df := range vocab {
		if df > bestDF && oneEdit(word, v) {
			best, bestDF = v, df
		}
	}
	return best
}

// oneEdit reports whether a and b differ by one insertion, deletion,
// substitution or swap of adjacent bytes.
func oneEdit(a, b string) bool {
	if len(a) < len(b) {
		a, b = b, a
	}
	switch len(a) - len(b) {
	case 0:
		i := 0
		for i < len(a) && a[i] == b[i] {
			i++
		}
		if i == len(a) {
			return false
		}
		if a[i+1:] == b[i+1:] {
			return true
		}
		return i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
	case 1:
		i := 0
		for i < len(b) && a[i] == b[i] {
			i++
		}
		return a[i+1:] == b[i:]
	}
	return false
}

// overlap is the weighted share of the question's terms that s contains.
func overlap(q map[string]float64, s string) float64 {
	if len(q) == 0 {
		return 0
	}
	var total, hit float64
	for _, w := range q {
		total += w
	}
	seen := map[string]bool{}
	for _, t := range tokenize.Terms(s) {
		if w, ok := q[t]; ok && !seen[t] {
			seen[t] = true
			hit += w
		}
	}
	return hit / total
}

// quantityCues mark questions whose answer is a number: a duration, a
// price, an amount.
var quantityCues = []string{"how long", "how many", "how much", "when", "what time", "how soon", "how fast", "minimum", "maximum",
	"多久", "几天", "多少", "几个", "几点", "什么时候", "多长时间", "多快", "多大", "最低", "最多"}

func asksQuantity(q string) bool { return containsAny(tokenize.Normalize(q), quantityCues) }

func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
