package llm

import (
	"context"
	"iter"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/guard"
	"github.com/kefuhq/kefu/prompts"
	"github.com/kefuhq/kefu/tokenize"
)

// Extractive answers by quoting. It cuts the request's context passages
// into units that can be quoted alone (a policy's sentences, an FAQ entry's
// answer sentences, a record's fields), scores each by the question's
// terms it holds (weighted by how rare they are among the units), by how
// well a field's name or a section's heading matches what the question
// asks about, by the FAQ question it answers, by language (the shopper's
// first) and by position, and quotes the best few (those scoring at least
// half the best) with their [n].
// It never writes a fact of its own, so its answers are as true as the
// shop's documents; it cannot combine facts or answer what no single unit
// says. It never answers with nothing: without a matching unit it quotes
// the best passage's first one, and without passages it says it does not
// know (the "unknown_brief" reply).
type Extractive struct {
	// MaxSentences caps the quoted units (default 3; a unit of under
	// shortUnitRunes, such as "Yes.", does not count).
	MaxSentences int
	// MaxRunes caps the answer's length before citations (default 600).
	MaxRunes int
}

// Name is the backend name reported with answers.
func (Extractive) Name() string { return "extractive" }

// IgnoresPrompt tells the pipeline not to render a model prompt for it: the
// extractive answerer reads the question and the passages only.
func (Extractive) IgnoresPrompt() bool { return true }

// Generate composes the answer and yields it one unit at a time. It fails
// only when ctx is done or its embedded reply templates are broken (which
// the prompts package's tests rule out).
func (e Extractive) Generate(ctx context.Context, req kefu.GenerateRequest) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		pieces, err := e.compose(req)
		if err != nil {
			yield("", err)
			return
		}
		for _, piece := range pieces {
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

// replies are the fixed texts the answerer may add: the note that a quote
// is in another language, and the reply when there is nothing to quote.
var replies = sync.OnceValues(prompts.Load)

func reply(locale, name string, data any) (string, error) {
	set, err := replies()
	if err != nil {
		return "", err
	}
	return set.Render(locale, name, data)
}

// Passage kinds, which decide how a passage is cut into units.
const (
	kindProse  = iota // sentences
	kindFAQ           // the sentences of the answer; the question scores them
	kindRecord        // "Key: value" fields
)

func passageKind(c kefu.Chunk) int {
	switch {
	case isFAQText(c.Text):
		return kindFAQ
	case c.Type == kefu.TypeProduct || c.Type == kefu.TypeOrder || c.Type == kefu.TypeFAQ:
		return kindRecord
	}
	return kindProse
}

// unit is one quotable piece of a passage.
type unit struct {
	passage int    // 0-based passage index
	pos     int    // position within the passage
	group   int    // the field or paragraph it belongs to: a short unit may bring the next of its group
	label   string // field name, FAQ question or section heading: context that scores but is not quoted
	text    string // what is quoted
	lang    string // "zh" or "en"
	faq     bool   // an FAQ answer sentence, scored by its question too
	field   bool   // a record field, matched by name against the question's aspects
	part    bool   // one sentence of a long field
	head    string // the sentence's own lead-in ("保修政策：…", "【尺寸规格】…"), which names what it is about
	score   float64
	match   float64 // the part of score that is the question's terms in the unit, before cues
}

// passage is a context passage cut into units, with what names it.
type passage struct {
	kind  int
	name  string // a record's name in the reader's language, "" for other kinds
	named int    // how many of the question's terms name the record
	units []unit
}

// compose returns the answer's pieces: a note when the quote is in another
// language than the shopper's, then each quoted passage's units followed
// by its [n] marker.
func (e Extractive) compose(req kefu.GenerateRequest) ([]string, error) {
	maxS := e.MaxSentences
	if maxS <= 0 {
		maxS = 3
	}
	maxR := e.MaxRunes
	if maxR <= 0 {
		maxR = 600
	}
	locale := req.Locale
	if locale != "zh" {
		locale = "en"
	}
	passages := make([]passage, len(req.Context))
	var corpus []string
	for i, h := range req.Context {
		passages[i] = cutPassage(i, h.Chunk, locale)
		for _, u := range passages[i].units {
			corpus = append(corpus, u.label+"\n"+u.text)
		}
	}
	question := req.Query
	if question == "" {
		question = req.Question
	}
	q := questionTerms(question, corpus)
	// A record's name says which product or order it is, which retrieval
	// has settled; the question's other words pick the field ("waterproof"
	// -> "Water resistance: IPX4"). So within a record its name's terms
	// count for little; elsewhere (a discount rule that names "国家补贴",
	// a policy about "kettles") they are content.
	asking := termSet(req.Question)
	qs := make([]map[string]float64, len(passages))
	for i, h := range req.Context {
		qs[i] = q
		if passages[i].kind != kindRecord {
			continue
		}
		names := nameTerms(h.Chunk.Text)
		for t := range termSet(h.Chunk.Title + "\n" + passages[i].name) {
			names[t] = true
			if asking[t] {
				passages[i].named++
			}
		}
		qs[i] = downweight(q, names, 0.2)
	}
	maxNamed := 0
	for _, p := range passages {
		maxNamed = max(maxNamed, p.named)
	}
	// A record is named in the answer only by what the passages say, their
	// titles included (the pipeline's fact gate reads them too): a name's
	// numbers ("60升") must be quoted, not made.
	sources := make([]string, len(req.Context))
	for i, h := range req.Context {
		sources[i] = h.Chunk.Title + "\n" + h.Chunk.Text
	}
	for i := range passages {
		if n := passages[i].name; n != "" && len(guard.Ungrounded(n, sources)) > 0 {
			passages[i].name = ""
		}
	}
	asked := askedAspects(req.Question + " " + req.Query)
	quantity := asksQuantity(req.Question)
	top := 0.0
	if len(req.Context) > 0 {
		top = req.Context[0].Score
	}

	var cands []unit
	for pi := range passages {
		for _, u := range passages[pi].units {
			u.score, u.match = scoreUnit(qs[pi], u, asked, quantity)
			if u.score <= 0 {
				continue
			}
			if u.lang != "" && u.lang != locale {
				u.score *= otherLanguage
			}
			// Prefer the passages retrieval ranked higher and, slightly,
			// earlier units.
			if top > 0 {
				u.score *= 0.5 + 0.5*math.Min(1, req.Context[pi].Score/top)
			}
			// Of several products, the one the question names.
			if passages[pi].kind == kindRecord && maxNamed > 0 {
				u.score *= 0.6 + 0.4*float64(passages[pi].named)/float64(maxNamed)
			}
			u.score -= 0.005 * float64(u.pos)
			cands = append(cands, u)
		}
	}
	if len(cands) == 0 {
		// Retrieval judged the passages relevant, but no unit shares a
		// term: quote the best passage's first unit rather than nothing.
		for _, p := range passages {
			if len(p.units) > 0 {
				u := p.units[0]
				u.score = 1
				cands = append(cands, u)
				break
			}
		}
	}
	if len(cands) == 0 {
		text, err := reply(locale, "unknown_brief", nil)
		if err != nil {
			return nil, err
		}
		return []string{text}, nil
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })

	picked := pick(cands, passages, req.Context, locale, maxS, maxR)
	sort.SliceStable(picked, func(i, j int) bool {
		if picked[i].passage != picked[j].passage {
			return passageRank(picked, picked[i].passage) < passageRank(picked, picked[j].passage)
		}
		return picked[i].pos < picked[j].pos
	})

	var pieces []string
	if lang := picked[0].lang; lang != "" && lang != locale {
		note, err := reply(locale, "other_language", struct{ Language string }{lang})
		if err != nil {
			return nil, err
		}
		pieces = append(pieces, note+"\n")
	}
	for i, u := range picked {
		p := passages[u.passage]
		first := i == 0 || picked[i-1].passage != u.passage
		text := u.text
		switch {
		case first && p.kind == kindRecord:
			// The record is named once, before its first quoted field.
			if n := p.name; n != "" && !strings.Contains(text, n) {
				text = n + " – " + text
			}
		case !first && p.kind == kindRecord && endsSentence(picked[i-1].text):
			if !(u.lang == "zh" || u.lang == "" && locale == "zh") {
				text = " " + text
			}
		case !first && p.kind == kindRecord:
			text = "; " + text
		case !first && !(u.lang == "zh" || u.lang == "" && locale == "zh"):
			text = " " + text
		}
		if i > 0 && first {
			text = "\n" + text
		}
		if i == len(picked)-1 || picked[i+1].passage != u.passage {
			text += " [" + strconv.Itoa(u.passage+1) + "]"
		}
		pieces = append(pieces, text)
	}
	return pieces, nil
}

func endsSentence(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return strings.ContainsRune(".!?。！？；", r)
}

// otherLanguage scales the score of a unit not in the shopper's language:
// it wins only when nothing in their language comes close.
const otherLanguage = 0.55

// pick chooses the units to quote from the candidates, best first.
func pick(cands []unit, passages []passage, ctx []kefu.Hit, locale string, maxS, maxR int) []unit {
	var picked []unit
	runes, counted := 0, 0
	best := cands[0]
	for _, c := range cands {
		if counted == maxS {
			break
		}
		if len(picked) > 0 && (c.score < 0.5*best.score || c.lang != "" && best.lang != "" && c.lang != best.lang) {
			continue
		}
		// A record's second field must match nearly as well: one asked
		// property, one field ("F002", not every fault code of the list).
		if len(picked) > 0 && c.field && c.match < 0.7*best.match {
			continue
		}
		n := utf8.RuneCountInString(c.text)
		if len(picked) > 0 && runes+n > maxR {
			continue
		}
		// One passage at a time reads better: quote a second passage only
		// when its unit scores nearly as well as the first and retrieval
		// ranked the passage nearly as high.
		if len(picked) > 0 && c.passage != best.passage &&
			(c.score < 0.8*best.score || ctx[c.passage].Score < 0.75*ctx[best.passage].Score) {
			continue
		}
		// Another product or order is quoted only when the question names
		// it as well as the first ("the Pro", not "the Pro and the Lite").
		// Two records are quoted only when both can be named.
		if len(picked) > 0 && c.passage != best.passage && passages[c.passage].kind == kindRecord &&
			(passages[c.passage].named < passages[best.passage].named || passages[c.passage].name == "" || passages[best.passage].name == "") {
			continue
		}
		if hasUnit(picked, c) {
			continue
		}
		picked = append(picked, c)
		runes += n
		if n >= shortUnitRunes || c.field {
			counted++ // "Yes." does not use up the answer
		}
	}
	// A field not in the shopper's language ("Warranty months: 24" for a
	// Chinese reader) brings the unit of its passage in their language that
	// says nearly as much ("北峰提供24个月厂家保修。").
	if best.lang != locale {
		for _, c := range cands {
			if c.passage == best.passage && c.lang == locale && c.match >= 0.7*best.match && !hasUnit(picked, c) {
				picked = append(picked, c)
				break
			}
		}
	}
	// A short unit ("Yes.", "可以。") says little alone: the next unit of
	// its paragraph or answer comes with it.
	for _, u := range picked {
		if utf8.RuneCountInString(u.text) >= shortUnitRunes || u.field {
			continue
		}
		for _, next := range passages[u.passage].units {
			if next.pos == u.pos+1 && next.group == u.group && !hasUnit(picked, next) {
				picked = append(picked, next)
				break
			}
		}
	}
	return picked
}

// shortUnitRunes is the length under which a quoted sentence brings the
// next one of its paragraph.
const shortUnitRunes = 16

func hasUnit(us []unit, u unit) bool {
	for _, x := range us {
		if x.passage == u.passage && x.pos == u.pos {
			return true
		}
	}
	return false
}

// scoreUnit is the unit's match with the question: the weighted share of
// the question's terms that its text holds, plus a lesser share for terms
// only its label (field name, heading) holds, plus the aspect and quantity
// cues. An FAQ answer sentence also scores by how well its entry's question
// matches, more for the answer's opening sentences.
func scoreUnit(q map[string]float64, u unit, asked []aspect, quantity bool) (score, match float64) {
	var total float64
	for _, w := range q {
		total += w
	}
	if total == 0 {
		return 0, 0
	}
	inText := termSet(u.text)
	inLabel := termSet(u.label)
	var text, label float64
	for t, w := range q {
		switch {
		case inText[t]:
			text += w
		case inLabel[t]:
			label += w
		}
	}
	var s float64
	if u.faq {
		// The entry's question says what its answer is about, and answers
		// open with what matters most.
		var qmatch float64
		for t, w := range q {
			if inLabel[t] && !askingTerms[t] {
				qmatch += w
			}
		}
		s = 0.6*text/total + 0.8*qmatch/total*math.Pow(0.8, float64(u.pos))
	} else {
		s = (text + labelWeight*label) / total
	}
	match = s
	// A field named for what the question asks about answers it even when
	// the question's other words are the product's name ("how much is the
	// kettle" -> "Price: 199.00"). A sentence of a long field that says it
	// is about the property counts as that field; the field's other
	// sentences, half.
	bonus := 0.0
	if u.field {
		for _, a := range asked {
			switch {
			case u.head != "" && a.names(u.head), a.names(u.label) && !u.part:
				bonus = aspectBonus
			case a.names(u.label):
				bonus = max(bonus, aspectBonus/2)
			}
		}
	}
	if s == 0 && bonus == 0 {
		return 0, 0
	}
	s += bonus
	if hasDigit(u.text) {
		s *= 1.1 // a rule with its numbers says more than one without
		if quantity {
			s *= 1.5
		}
	}
	return s, match
}

const (
	labelWeight = 0.6 // a term in the field name or heading only, against one in the text
	aspectBonus = 0.4 // a field named for what the question asks about
)

func termSet(s string) map[string]bool {
	out := map[string]bool{}
	for _, t := range tokenize.Terms(s) {
		out[t] = true
	}
	return out
}

// passageRank orders passages by their best picked unit.
func passageRank(picked []unit, passage int) int {
	for i, s := range picked {
		if s.passage == passage {
			return i
		}
	}
	return len(picked)
}

// cutPassage cuts a chunk into its quotable units.
func cutPassage(pi int, c kefu.Chunk, locale string) passage {
	p := passage{kind: passageKind(c)}
	heading := c.Heading
	if i := strings.LastIndex(heading, " > "); i >= 0 {
		heading = heading[i+3:]
	}
	add := func(u unit) {
		u.passage, u.pos = pi, len(p.units)
		p.units = append(p.units, u)
	}
	switch p.kind {
	case kindFAQ:
		q, a := splitFAQ(c.Text)
		for _, s := range tokenize.Sentences(a) {
			add(unit{label: q, text: s, lang: langOf(s), faq: true})
		}
	case kindRecord:
		fields := recordFields(c.Text, heading)
		p.name = recordName(fields, c.Title, locale)
		for g, f := range fields {
			if f.name || f.value == strings.TrimSpace(c.Title) {
				continue // the record's name, or its title carried into a later chunk
			}
			lang := labelLang(f.label)
			if lang == "" {
				lang = langOf(f.value)
			}
			label := f.label
			if f.parent != "" {
				label = f.parent + " " + f.label
			}
			if utf8.RuneCountInString(f.value) <= longValueRunes {
				add(unit{group: g, label: label, text: f.quote(), lang: lang, field: true})
				continue
			}
			// A long value (a description, a warranty text) is quoted by
			// the sentence; the first carries the field's name.
			for si, s := range tokenize.Sentences(f.value) {
				text := s
				if si == 0 && f.label != "" {
					text = f.label + ": " + s
				}
				add(unit{group: g, label: label, text: text, lang: lang, field: true, part: true, head: leadIn(s)})
			}
		}
	default:
		for g, para := range paragraphs(c.Text) {
			if para.heading != "" {
				heading = para.heading
				continue
			}
			for _, s := range tokenize.Sentences(para.text) {
				add(unit{group: g, label: heading, text: s, lang: langOf(s)})
			}
		}
	}
	return p
}

// leadIn is a sentence's own heading: the text in a leading 【】, or
// before a colon in its first few characters ("保修政策：整机包修8年").
func leadIn(s string) string {
	if rest, ok := strings.CutPrefix(s, "【"); ok {
		if head, _, ok := strings.Cut(rest, "】"); ok {
			return head
		}
	}
	for i, r := range s {
		if r == '：' || r == ':' {
			return s[:i]
		}
		if utf8.RuneCountInString(s[:i]) >= 12 {
			break
		}
	}
	return ""
}

// longValueRunes is the length over which a record field is quoted by the
// sentence rather than whole.
const longValueRunes = 120

// isFAQText reports whether a chunk is an FAQ entry as ingest renders it:
// "Q: question" then "A: answer".
func isFAQText(text string) bool {
	return strings.HasPrefix(text, "Q: ") && strings.Contains(text, "\nA: ")
}

// splitFAQ returns an FAQ entry's question and answer. The answer runs to
// the entry's other fields ("Id: faq-01"), which are not part of it.
func splitFAQ(text string) (q, a string) {
	q, a, _ = strings.Cut(strings.TrimPrefix(text, "Q: "), "\nA: ")
	lines := strings.Split(a, "\n")
	end := len(lines)
	for end > 1 {
		key, val, ok := cutField(lines[end-1])
		if !ok || val == "" || strings.ContainsAny(val, " 　") && utf8.RuneCountInString(key) > 24 {
			break
		}
		end--
	}
	return strings.TrimSpace(q), strings.TrimSpace(strings.Join(lines[:end], "\n"))
}

// field is one "Key: value" of a record, or one item of a list field.
type field struct {
	label  string // the field's name; a list item's is its list's
	parent string // the object it is nested in, "" at the top
	value  string
	name   bool // the field names the record (Name, Title, Sku, Order id)
	item   bool // a list item
}

// quote is the field as quoted: "Warranty months: 12".
func (f field) quote() string {
	if f.label == "" {
		return f.value
	}
	return f.label + ": " + f.value
}

// recordFields parses a record's "Key: value" lines as ingest renders
// them: nested objects indented below their key, list items as "- ...",
// continuation lines indented. Lines before any key (the rest of a long
// field cut into several chunks) belong to the chunk's heading.
func recordFields(text, heading string) []field {
	var out []field
	parents := map[int]string{} // indent -> key of an object or list opened there
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		parent := ""
		for i := indent - 1; i >= 0; i-- {
			if k, ok := parents[i]; ok {
				parent = k
				break
			}
		}
		for i := range parents {
			if i >= indent {
				delete(parents, i)
			}
		}
		if item, ok := strings.CutPrefix(trimmed, "- "); ok {
			label := parent
			if label == "" {
				label = heading
			}
			out = append(out, field{label: label, value: item, item: true})
			continue
		}
		key, val, ok := cutField(trimmed)
		switch {
		case ok && val == "":
			parents[indent] = key
		case ok:
			out = append(out, field{label: key, parent: parent, value: val, name: parent == "" && isNameKey(key)})
		case len(out) > 0 && (indent > 0 || out[len(out)-1].label == heading):
			out[len(out)-1].value += "\n" + trimmed
		default:
			out = append(out, field{label: heading, value: trimmed})
		}
	}
	return out
}

// cutField splits "Key: value" (or "Key:" opening a nested object). The
// key is short and holds no sentence punctuation, so prose with a colon
// is not taken for a field.
func cutField(line string) (key, val string, ok bool) {
	key, val, ok = strings.Cut(line, ": ")
	if !ok {
		k, found := strings.CutSuffix(line, ":")
		if !found {
			return "", "", false
		}
		key, val = k, ""
	}
	key = strings.TrimSpace(key)
	if key == "" || utf8.RuneCountInString(key) > 40 || strings.ContainsAny(key, ".,;!?。，；！？：") {
		return "", "", false
	}
	return key, strings.TrimSpace(val), true
}

// isNameKey reports whether a record field names the record.
func isNameKey(key string) bool {
	key = strings.ToLower(strings.TrimSpace(key))
	return strings.HasPrefix(key, "name") || strings.HasPrefix(key, "title") || key == "sku" || key == "order id" || key == "id" ||
		strings.HasSuffix(key, "名称") || strings.HasSuffix(key, "标题") || strings.HasSuffix(key, "id") || key == "编号"
}

// recordName is the name a record is given in an answer: its name field
// in the reader's language ("Name (zh)" for a Chinese reader), else its
// name field, else the chunk's title.
func recordName(fields []field, title, locale string) string {
	best := ""
	for _, f := range fields {
		if !f.name || f.parent != "" {
			continue
		}
		key := strings.ToLower(f.label)
		if !strings.HasPrefix(key, "name") && !strings.HasPrefix(key, "title") && !strings.HasSuffix(key, "名称") && !strings.HasSuffix(key, "标题") {
			continue
		}
		if lang := labelLang(f.label); lang != "" {
			if lang == locale {
				return f.value
			}
			continue
		}
		if best == "" {
			best = f.value
		}
	}
	if best == "" {
		best = strings.TrimSpace(title)
	}
	return best
}

// labelLang is the language a field's name marks: "Name (zh)" -> "zh".
func labelLang(label string) string {
	l := strings.ToLower(strings.TrimSpace(label))
	switch {
	case strings.HasSuffix(l, "(zh)"), strings.HasSuffix(l, "(cn)"):
		return "zh"
	case strings.HasSuffix(l, "(en)"):
		return "en"
	}
	return ""
}

// langOf is the language of a text: Chinese when at least a fifth of its
// letters are Chinese characters, English when it has a few letters and
// fewer Chinese, "" (any reader's) for numbers, codes and units ("1800 W").
func langOf(text string) string {
	var cjk, letters int
	for _, r := range text {
		switch {
		case tokenize.IsCJK(r):
			cjk++
			letters++
		case unicode.IsLetter(r):
			letters++
		}
	}
	switch {
	case cjk > 0 && cjk*5 >= letters:
		return "zh"
	case letters < 4:
		return ""
	}
	return "en"
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

// para is a paragraph of prose, or a heading line.
type para struct {
	heading string
	text    string
}

// paragraphs splits prose into paragraphs at blank lines. A Markdown
// heading is a paragraph of its own; a line that ends in a colon is joined
// with the list below it, whose short items it introduces ("Not eligible:
// gift cards; engraved items"); long list items are sentences of their own.
func paragraphs(text string) []para {
	var out []para
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			out = append(out, para{text: strings.Join(cur, "\n")})
			cur = nil
		}
	}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "":
			flush()
		case strings.HasPrefix(line, "#"):
			flush()
			out = append(out, para{heading: strings.TrimSpace(strings.TrimLeft(line, "#"))})
		case strings.HasSuffix(line, ":") || strings.HasSuffix(line, "："):
			j := i + 1
			for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
				j++
			}
			var items []string
			for ; j < len(lines) && isItem(lines[j]); j++ {
				items = append(items, strings.TrimRight(itemText(lines[j]), ".。;；"))
			}
			switch {
			case len(items) == 0:
				cur = append(cur, line)
				continue
			case shortItems(items):
				// "; " is no sentence end, so the list stays one unit.
				cur = append(cur, ended(line+" "+strings.Join(items, "; ")))
			default:
				cur = append(cur, line)
				for _, it := range items {
					cur = append(cur, ended(it))
				}
			}
			i = j - 1
		case isItem(line):
			cur = append(cur, ended(itemText(line)))
		default:
			cur = append(cur, line)
		}
	}
	flush()
	return out
}

// isItem reports whether a line is a list item: "- ", "* ", "• " or a
// number ("1. ", "2、").
func isItem(line string) bool {
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "- ") || strings.HasPrefix(line, "* ") || strings.HasPrefix(line, "• ") {
		return true
	}
	return itemNumber(line) > 0
}

// itemNumber is the length of a numbered item's marker ("12. ", "3、"),
// or 0.
func itemNumber(line string) int {
	i := 0
	for i < len(line) && i < 3 && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	switch {
	case i == 0:
		return 0
	case strings.HasPrefix(line[i:], ". "):
		return i + 2
	case strings.HasPrefix(line[i:], "、"):
		return i + len("、")
	}
	return 0
}

// itemText is a list item's text without its marker.
func itemText(line string) string {
	line = strings.TrimSpace(line)
	if n := itemNumber(line); n > 0 {
		return strings.TrimSpace(line[n:])
	}
	for _, m := range []string{"- ", "* ", "• "} {
		if rest, ok := strings.CutPrefix(line, m); ok {
			return strings.TrimSpace(rest)
		}
	}
	return line
}

// ended ends s as a sentence, so that list items split apart.
func ended(s string) string {
	if r, _ := utf8.DecodeLastRuneInString(s); !strings.ContainsRune(".!?。！？；;:：", r) {
		if langOf(s) == "zh" {
			s += "。"
		} else {
			s += "."
		}
	}
	return s
}

// shortItems reports whether list items read well joined in one sentence.
func shortItems(items []string) bool {
	for _, it := range items {
		if utf8.RuneCountInString(it) > 60 {
			return false
		}
	}
	return len(items) > 0
}

// aspect maps the ways a question asks about one property of a product to
// the field names that hold it. The table is small on purpose: field names
// also match by plain overlap with the question (labelWeight).
type aspect struct {
	ask, field []string
}

func (a aspect) names(label string) bool {
	return containsAny(tokenize.Normalize(label), a.field)
}

var aspects = []aspect{
	{ask: []string{"warrant", "guarantee", "保修", "质保", "保固", "包修"}, field: []string{"warrant", "guarantee", "保修", "质保", "包修", "维修"}},
	{ask: []string{"price", "cost", "how much is", "how much are", "how much for", "多少钱", "价格", "价钱", "售价", "几块钱"}, field: []string{"price", "cost", "价格", "售价", "价钱"}},
	{ask: []string{"size", "dimension", "how big", "how large", "how tall", "how wide", "measure", " fit", "尺寸", "多大", "大小", "长宽高", "规格", "放得下", "装得下"},
		field: []string{"dimension", "size", "thickness", "width", "height", "length", "depth", "尺寸", "规格", "大小", "厚度", "宽度", "高度"}},
	{ask: []string{"material", "made of", "made from", "材质", "材料", "什么做的"}, field: []string{"material", "材质", "材料"}},
	{ask: []string{"weigh", "heavy", "重量", "多重", "几斤"}, field: []string{"weight", "重量", "净重"}},
	{ask: []string{"capacity", "litre", "liter", "容量", "几升"}, field: []string{"capacity", "volume", "容量", "容积"}},
	{ask: []string{"power", "watt", "功率", "几瓦"}, field: []string{"power", "watt", "功率"}},
	{ask: []string{"install", "mount", "安装"}, field: []string{"install", "安装"}},
	{ask: []string{"fault", "error", "code", "故障", "报错", "代码"}, field: []string{"fault", "error", "故障"}},
	{ask: []string{"colour", "color", "颜色"}, field: []string{"colour", "color", "颜色"}},
	{ask: []string{"battery", "续航", "电池"}, field: []string{"battery", "续航", "电池"}},
	{ask: []string{"in stock", "available", "库存", "有货", "现货"}, field: []string{"stock", "availab", "库存"}},
	{ask: []string{"gift", "freebie", "赠品", "送什么"}, field: []string{"gift", "赠品"}},
}

// askedAspects are the aspects a question asks about.
func askedAspects(question string) []aspect {
	q := " " + tokenize.Normalize(question) + " "
	var out []aspect
	for _, a := range aspects {
		if containsAny(q, a.ask) {
			out = append(out, a)
		}
	}
	return out
}

// questionTerms weights the question's terms by how rare they are among
// the candidate units (a local IDF): in a returns passage "return" is
// everywhere and "earbuds" in one sentence, so "earbuds" decides. Single
// Chinese characters count a quarter of a word or bigram. A misspelt word
// stands for the unit word one edit away.
func questionTerms(q string, units []string) map[string]float64 {
	df := map[string]int{}
	for _, s := range units {
		seen := map[string]bool{}
		for _, t := range tokenize.Terms(s) {
			if !seen[t] {
				seen[t] = true
				df[t]++
			}
		}
	}
	n := float64(len(units))
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
// that no unit contains ("retrun" -> "return"), or the word itself.
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

// quantityCues mark questions whose answer is a number: a duration, a
// price, an amount.
var quantityCues = []string{"how long", "how many", "how much", "when", "what time", "how soon", "how fast", "minimum", "maximum",
	"多久", "几天", "多少", "几个", "几点", "什么时候", "多长时间", "多快", "多大", "最低", "最多"}

func asksQuantity(q string) bool { return containsAny(tokenize.Normalize(q), quantityCues) }

// askingTerms are the terms of the ways a question is asked ("几天",
// "怎么办", "how long"): two questions that share only these ask about
// different things, so they do not make an FAQ entry's question match.
var askingTerms = func() map[string]bool {
	m := map[string]bool{}
	for _, cue := range append(quantityCues, "怎么", "怎么办", "如何", "什么", "哪里", "哪儿", "是否", "可以吗", "能不能", "行不行", "吗", "呢", "啊") {
		for _, t := range tokenize.Terms(cue) {
			m[t] = true
		}
	}
	return m
}()

func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
