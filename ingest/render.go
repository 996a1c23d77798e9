package ingest

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/tokenize"
)

// Field names recognised in records, compared after normKey ("Order ID",
// "order_id" and "orderId" are the same field). The first present wins.
var (
	idKeys       = []string{"id", "sku", "orderid", "productid", "faqid", "code", "订单id", "订单号", "商品id", "产品id", "编号"}
	customerKeys = []string{"customerid", "userid", "customer", "buyerid", "用户id", "客户id", "顾客id", "买家id", "会员id"}
	titleKeys    = []string{"title", "name", "question", "productname", "标题", "名称", "商品名称", "产品名称"}
	// bodyKeys name a field that holds a record's prose, kept as written
	// when it runs over several lines.
	bodyKeys     = []string{"content", "body", "text", "markdown", "article", "正文", "内容"}
	questionKeys = []string{"question", "q", "问题"}
	answerKeys   = []string{"answer", "a", "答案"}
	localeKeys   = []string{"locale", "lang", "language"}
)

// Fields of a list item, for lines like "1 x Earbuds (LM-HP-001), 599.00".
var (
	qtyKeys   = []string{"quantity", "qty", "count"}
	nameKeys  = []string{"name", "title", "productname", "product"}
	codeKeys  = []string{"sku", "productid", "id", "code"}
	priceKeys = []string{"price", "unitprice", "amount", "total", "subtotal"}
)

// normKey folds a field name for matching: lower case, letters and digits
// only.
func normKey(k string) string {
	if isNormKey(k) {
		return k
	}
	var b strings.Builder
	for _, r := range k {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// isNormKey reports whether k is already as normKey leaves it: lower-case
// ASCII letters and digits, the common case that needs no copy.
func isNormKey(k string) bool {
	for i := 0; i < len(k); i++ {
		if c := k[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// keyIs reports whether normKey(k) == n without building normKey(k).
func keyIs(k, n string) bool {
	j := 0
	for _, r := range k {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			continue
		}
		r = unicode.ToLower(r)
		if j >= len(n) {
			return false
		}
		m, size := utf8.DecodeRuneInString(n[j:])
		if m != r {
			return false
		}
		j += size
	}
	return j == len(n)
}

func isCustomerKey(k string) bool {
	n := normKey(k)
	for _, c := range customerKeys {
		if n == c {
			return true
		}
	}
	return false
}

// lookup returns the index of the first field matching one of names, or -1.
func (o object) lookup(names ...string) int {
	for _, name := range names {
		n := normKey(name)
		for i, f := range o {
			if keyIs(f.key, n) {
				return i
			}
		}
	}
	return -1
}

// scalar returns the text of the first matching field holding a non-empty
// scalar, and its index.
func (o object) scalar(names ...string) (string, int) {
	for _, name := range names {
		n := normKey(name)
		for i, f := range o {
			if !keyIs(f.key, n) {
				continue
			}
			if s := scalarText(f.val); s != "" {
				return s, i
			}
		}
	}
	return "", -1
}

// scalarText renders a string, number or boolean; "" for anything else.
func scalarText(v any) string {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	case bool:
		if v {
			return "yes"
		}
		return "no"
	}
	return ""
}

// recordUnit makes a record's document, or says why it cannot.
func (in *Ingester) recordUnit(f file, rec record) (unit, string) {
	name := path.Base(f.source)
	o := rec.fields
	shown := rec.fields
	if rec.render != nil {
		shown = rec.render
	}
	// Named levels of keys around the record count as its fields for
	// detection (an owning customer, say) but are not part of its text.
	if n := min(len(in.opts.Levels), len(rec.path)); n > 0 {
		o = slices.Clone(o)
		for i, level := range in.opts.Levels[:n] {
			if level = strings.TrimSpace(level); level != "" && level != "-" {
				o = append(o, field{key: level, val: rec.path[i]})
			}
		}
		rec.fields = o
	}
	typ := in.forcedType()
	if typ == "" {
		typ = in.recordType(rec, name)
	}

	id, idAt, reason := in.recordID(rec)
	if reason != "" {
		return unit{}, reason
	}
	customer := ""
	if typ == kefu.TypeOrder {
		if customer, reason = in.recordCustomer(o); reason != "" {
			return unit{}, fmt.Sprintf("order %s: %s", id, reason)
		}
	} else if in.forcedType() == "" {
		// Contact details make a record private: without an owner it
		// would be public knowledge, so it fails instead.
		if k := personalField(rec.fields); k != "" {
			return unit{}, fmt.Sprintf("record %s holds personal data (%s) but no customer id: a private record needs the customer it belongs to, or a set type if it is public", id, k)
		}
	}

	skip := map[int]bool{}
	for i, f := range shown {
		if slices.Contains(localeKeys, normKey(f.key)) || !in.keepField(f.key) {
			skip[i] = true
		}
	}
	qa := ""
	if typ == kefu.TypeFAQ {
		q, qi := shown.scalar(questionKeys...)
		a, ai := shown.scalar(answerKeys...)
		if q != "" && a != "" {
			qa = fmt.Sprintf("Q: %s\nA: %s\n", q, a)
			skip[qi], skip[ai] = true, true
		}
	}
	keyLine := idAt < 0 && rec.key != "" && !hasValue(shown, id)
	// A long multi-line text field (an article's content) is the
	// record's body: it follows the other fields as prose, cut at its own
	// headings, rather than as one indented "Content:" value.
	bodyAt := -1
	for i, f := range shown {
		if skip[i] {
			continue
		}
		if s, ok := f.val.(string); ok && slices.Contains(bodyKeys, normKey(f.key)) && strings.Contains(strings.TrimSpace(s), "\n") {
			bodyAt = i
			break
		}
	}
	// Each field is rendered on its own, so that a record too long for one
	// chunk can be cut between fields, a long field being a section of
	// its own under its name.
	type block struct {
		label string // the field's label when it stands alone, else ""
		text  string
	}
	var blocks []block
	for i, f := range shown {
		if skip[i] || i == bodyAt {
			continue
		}
		var fb strings.Builder
		renderField(&fb, f.key, f.val, 0)
		if fb.Len() > 0 {
			blocks = append(blocks, block{humanize(f.key), fb.String()})
		}
	}
	var b strings.Builder
	b.WriteString(qa)
	for _, bl := range blocks {
		b.WriteString(bl.text)
	}
	head := cleanText(b.String())
	headLocale := detectLocale(head)
	zh := headLocale == "zh"
	lead := ""
	if keyLine {
		lead = idLabel(typ, zh) + ": " + id + "\n"
		head = cleanText(lead + head)
	}
	var body markdown
	if bodyAt >= 0 {
		body, _ = parseMarkdown(cleanText(shown[bodyAt].val.(string)), false)
	}
	text := head
	if body.body != "" {
		text = strings.TrimSpace(head + "\n\n" + body.body)
	}
	if text == "" {
		return unit{}, "empty record"
	}

	title := ""
	if in.opts.TitleField != "" {
		title, _ = o.scalar(in.opts.TitleField)
	}
	if title == "" && typ != kefu.TypeOrder {
		title, _ = o.scalar(titleKeys...)
	}
	if title == "" && typ != kefu.TypeOrder {
		title = titleBySuffix(o)
	}
	if title == "" {
		if typ == kefu.TypePolicy {
			title = titleOfName(name) + " " + id
		} else {
			title = typeLabel(typ, zh) + " " + id
		}
	}
	title = oneLine(title)

	locale := ""
	if l, _ := o.scalar(localeKeys...); l != "" {
		locale = normLocale(l)
	} else if l := localeOfName(name); l != "" {
		locale = l
	} else if !bilingual(o) {
		locale = headLocale
		if text != head {
			locale = detectLocale(text)
		}
	}

	meta := map[string]string{"record_id": id}
	for i, level := range in.opts.Levels {
		if level = strings.TrimSpace(level); i < len(rec.path) && level != "" && level != "-" {
			meta[level] = rec.path[i]
		}
	}
	doc := kefu.Document{
		ID:         f.source + "#" + id,
		Type:       typ,
		Title:      title,
		Source:     f.source,
		Locale:     locale,
		CustomerID: customer,
		Text:       text,
		Meta:       meta,
	}
	// A record's chunks carry its name as their title (which the indexes
	// and embeddings read with the text), not as a line repeated in each
	// text, where it would outweigh the field that answers.
	secs := []section{{body: head}}
	if budget := longRecordBytes * in.maxTokens(); len(head) > budget {
		// Cut between fields: a long field is a section under its name, a
		// run of short ones a section under theirs.
		secs = secs[:0]
		var cur strings.Builder
		var labels []string
		cur.WriteString(lead)
		cur.WriteString(qa)
		flush := func() {
			if t := cleanText(cur.String()); t != "" {
				secs = append(secs, section{path: groupPath(labels), body: t})
			}
			cur.Reset()
			labels = nil
		}
		for _, bl := range blocks {
			if len(bl.text) < longFieldBytes {
				if cur.Len()+len(bl.text) > budget {
					flush()
				}
				cur.WriteString(bl.text)
				labels = append(labels, bl.label)
				continue
			}
			flush()
			secs = append(secs, section{path: []string{bl.label}, body: cleanText(bl.text)})
		}
		flush()
	}
	if len(body.sections) > 0 && len(secs) == 1 {
		// The fields of a record with a body lead its first section
		// rather than make a small chunk of their own.
		first := body.sections[0]
		first.body = strings.TrimSpace(head + "\n\n" + first.body)
		secs[0] = first
		body.sections = body.sections[1:]
	}
	secs = append(secs, body.sections...)
	return unit{
		doc:      doc,
		sections: secs,
		line:     rec.line,
		record:   rec.index,
	}, ""
}

// A record whose text is longer than longRecordBytes bytes per token of
// the chunk size may not fit one chunk; it is then cut between fields, and
// every field of at least longFieldBytes bytes is a section of its own.
const (
	longRecordBytes = 3
	longFieldBytes  = 480
)

// groupPath is the heading of a run of short fields: their names, joined.
func groupPath(labels []string) []string {
	if len(labels) == 0 {
		return nil
	}
	sep := ", "
	for _, r := range strings.Join(labels, "") {
		if tokenize.IsCJK(r) {
			sep = "、"
			break
		}
	}
	return []string{strings.Join(labels, sep)}
}

// hasValue reports whether a field of o holds the scalar v.
func hasValue(o object, v string) bool {
	for _, f := range o {
		if scalarText(f.val) == v {
			return true
		}
	}
	return false
}

// keepField reports whether a record field is shown, by Options.Fields.
func (in *Ingester) keepField(key string) bool {
	if len(in.opts.Fields) == 0 {
		return true
	}
	n := normKey(key)
	for _, k := range in.opts.Fields {
		if normKey(k) == n {
			return true
		}
	}
	return false
}

// titleBySuffix finds a title in a field whose name ends in a word for
// it: "商品名称", "政策名称", "文章标题".
func titleBySuffix(o object) string {
	for _, f := range o {
		k := strings.TrimSpace(f.key)
		if strings.HasSuffix(k, "名称") || strings.HasSuffix(k, "标题") {
			if s := scalarText(f.val); s != "" {
				return s
			}
		}
	}
	return ""
}

// recordType detects a record's type: a customer field makes it an order
// whatever the file is called, so private data never becomes public by a
// naming accident; then a key wrapping the record ("orders"), the file
// name, and the fields.
func (in *Ingester) recordType(rec record, name string) string {
	o := rec.fields
	if in.hasCustomer(o) {
		return kefu.TypeOrder
	}
	if rec.hint != "" {
		return rec.hint
	}
	if t := typeOfName(name); t != "" {
		return t
	}
	if o.lookup(questionKeys...) >= 0 && o.lookup(answerKeys...) >= 0 {
		return kefu.TypeFAQ
	}
	for _, f := range o {
		if n := normKey(f.key); n == "sku" || strings.Contains(n, "price") || strings.Contains(n, "价格") || strings.Contains(n, "售价") {
			return kefu.TypeProduct
		}
	}
	return kefu.TypePolicy
}

func (in *Ingester) hasCustomer(o object) bool {
	if in.opts.CustomerField != "" && o.lookup(in.opts.CustomerField) >= 0 {
		return true
	}
	return o.lookup(customerKeys...) >= 0
}

// recordID returns the record's id and the index of the field it came
// from (-1 when it is a key or a position).
func (in *Ingester) recordID(rec record) (string, int, string) {
	o := rec.fields
	if in.opts.IDField != "" {
		if id, i := o.scalar(in.opts.IDField); id != "" {
			return id, i, ""
		}
		return "", -1, fmt.Sprintf("no %q field", in.opts.IDField)
	}
	if k := strings.TrimSpace(rec.key); k != "" {
		return k, -1, ""
	}
	if id, i := o.scalar(idKeys...); id != "" {
		return id, i, ""
	}
	if rec.line > 0 {
		return strconv.Itoa(rec.line), -1, ""
	}
	return strconv.Itoa(rec.index), -1, ""
}

// recordCustomer returns the customer an order belongs to. A customer
// given as an object ({"customer": {"id": ...}}) is read by its id.
func (in *Ingester) recordCustomer(o object) (string, string) {
	keys := customerKeys
	if in.opts.CustomerField != "" {
		keys = []string{in.opts.CustomerField}
	}
	for _, k := range keys {
		i := o.lookup(k)
		if i < 0 {
			continue
		}
		if c := scalarText(o[i].val); c != "" {
			return c, ""
		}
		if sub, ok := o[i].val.(object); ok {
			if c, _ := sub.scalar(append([]string{"id"}, customerKeys...)...); c != "" {
				return c, ""
			}
		}
	}
	if in.opts.CustomerField != "" {
		return "", fmt.Sprintf("no %q field; orders are private, so each needs the customer it belongs to", in.opts.CustomerField)
	}
	return "", "no customer id (customer_id, user_id or customer); orders are private, so each needs the customer it belongs to"
}

// bilingual reports whether a record has localised variants of its fields
// ("name" and "name_zh"); such a record serves every locale.
func bilingual(o object) bool {
	for _, f := range o {
		k := f.key
		lower := strings.ToLower(k)
		for _, suf := range []string{"_zh", "-zh", "_en", "-en", "_cn", "-cn", "_zh_cn", "_zh-cn"} {
			if strings.HasSuffix(lower, suf) {
				return true
			}
		}
		// camelCase: nameZh, titleEn
		if n := len(k); n > 2 && (strings.HasSuffix(k, "Zh") || strings.HasSuffix(k, "En") || strings.HasSuffix(k, "Cn")) {
			if r, _ := utf8.DecodeLastRuneInString(k[:n-2]); unicode.IsLower(r) {
				return true
			}
		}
	}
	return false
}

// typeLabel names a record type in a generated title, in Chinese for a
// Chinese record.
func typeLabel(typ string, zh bool) string {
	switch {
	case typ == kefu.TypeOrder && zh:
		return "订单"
	case typ == kefu.TypeOrder:
		return "Order"
	case typ == kefu.TypeProduct && zh:
		return "商品"
	case typ == kefu.TypeProduct:
		return "Product"
	case typ == kefu.TypeFAQ && zh:
		return "常见问题"
	case typ == kefu.TypeFAQ:
		return "FAQ"
	case zh:
		return "记录"
	}
	return "Record"
}

// idLabel labels the id line of a record keyed by id.
func idLabel(typ string, zh bool) string {
	switch {
	case zh && typ == kefu.TypeOrder:
		return "订单号"
	case zh:
		return typeLabel(typ, zh) + "编号"
	case typ == kefu.TypePolicy:
		return "Id"
	}
	return typeLabel(typ, zh) + " id"
}

// renderField writes a field as readable "Key: value" lines. Nested
// objects are indented below their key, lists of objects become one
// "- ..." line per object, empty values are left out.
func renderField(b *strings.Builder, key string, val any, indent int) {
	pad := strings.Repeat("  ", indent)
	label := humanize(key)
	switch v := val.(type) {
	case object:
		if items := keyedItems(v); items != nil {
			fmt.Fprintf(b, "%s%s:\n", pad, label)
			for _, it := range items {
				fmt.Fprintf(b, "%s- %s\n", pad, it)
			}
			return
		}
		var sub strings.Builder
		for _, f := range v {
			renderField(&sub, f.key, f.val, indent+1)
		}
		if sub.Len() > 0 {
			fmt.Fprintf(b, "%s%s:\n%s", pad, label, sub.String())
		}
	case array:
		var items []string
		scalars := true
		for _, e := range v {
			if s := inline(e.val); s != "" {
				items = append(items, s)
			}
			switch e.val.(type) {
			case object, array:
				scalars = false
			}
		}
		switch {
		case len(items) == 0:
		case scalars && shortItems(items):
			fmt.Fprintf(b, "%s%s: %s\n", pad, label, strings.Join(items, ", "))
		default:
			fmt.Fprintf(b, "%s%s:\n", pad, label)
			for _, it := range items {
				fmt.Fprintf(b, "%s- %s\n", pad, it)
			}
		}
	default:
		s := scalarText(v)
		if s == "" {
			return
		}
		// Continuation lines of a multi-line value stay under their key.
		s = strings.ReplaceAll(s, "\n", "\n"+pad+"  ")
		fmt.Fprintf(b, "%s%s: %s\n", pad, label, s)
	}
}

// shortItems reports whether a list of values reads well on one line,
// joined by commas: "black, white", not a list of sentences.
func shortItems(items []string) bool {
	total := 0
	for _, it := range items {
		n := utf8.RuneCountInString(it)
		if n > 40 {
			return false
		}
		total += n + 2
	}
	return total <= maxItemRunes
}

// maxItemRunes bounds an object that keyedItems puts on one line.
const maxItemRunes = 240

// keyedItems renders an object of small objects keyed by id (a product's
// variants) as one line per object, like a list, or returns nil. The key
// leads its line unless the object holds it anyway.
func keyedItems(o object) []string {
	if len(o) < 2 || !allObjects(o) {
		return nil
	}
	items := make([]string, 0, len(o))
	for _, f := range o {
		sub := f.val.(object)
		s := joinObject(sub)
		if utf8.RuneCountInString(s) > maxItemRunes {
			return nil
		}
		if k := strings.TrimSpace(f.key); k != "" && !hasValue(sub, k) {
			s = strings.TrimSuffix(k+": "+s, ": ")
		}
		if s != "" {
			items = append(items, s)
		}
	}
	return items
}

// inline renders a value on one line.
func inline(v any) string {
	switch v := v.(type) {
	case object:
		return joinObject(v)
	case array:
		var parts []string
		for _, e := range v {
			if s := inline(e.val); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "; ")
	}
	return oneLine(scalarText(v))
}

// joinObject renders an object on one line. A line item reads
// "1 x Lumi AirBeat Pro (LM-HP-001), 599.00"; other objects read
// "Key: value, Key: value".
func joinObject(o object) string {
	used := map[int]bool{}
	take := func(keys []string) string {
		for _, k := range keys {
			n := normKey(k)
			for i, f := range o {
				if used[i] || !keyIs(f.key, n) {
					continue
				}
				if s := oneLine(scalarText(f.val)); s != "" {
					used[i] = true
					return s
				}
			}
		}
		return ""
	}
	var parts []string
	if name := take(nameKeys); name != "" {
		qty, code, price := take(qtyKeys), take(codeKeys), take(priceKeys)
		s := name
		if qty != "" {
			s = qty + " x " + s
		}
		if code != "" {
			s += " (" + code + ")"
		}
		if price != "" {
			s += ", " + price
		}
		parts = append(parts, s)
	}
	for i, f := range o {
		if used[i] {
			continue
		}
		s := inline(f.val)
		if s == "" {
			continue
		}
		if _, nested := f.val.(object); nested {
			s = "(" + s + ")"
		}
		parts = append(parts, humanize(f.key)+": "+s)
	}
	return strings.Join(parts, ", ")
}

// humanize turns a field name into a label: "tracking_number" and
// "trackingNumber" become "Tracking number", "name_zh" becomes "Name (zh)".
func humanize(key string) string {
	if v, ok := labels.Load(key); ok {
		return v.(string)
	}
	label := humanizeKey(key)
	if len(key) <= 64 && labelCount.Add(1) <= maxLabels {
		labels.Store(key, label)
	}
	return label
}

// labels remembers the labels of field names, which repeat in every
// record; maxLabels bounds it, as keys can be ids.
var (
	labels     sync.Map
	labelCount atomic.Int64
)

const maxLabels = 1 << 14

func humanizeKey(key string) string {
	for _, r := range key {
		if tokenize.IsCJK(r) {
			// "商品ID" reads well as it is.
			return strings.TrimSpace(key)
		}
	}
	var words []string
	var cur []rune
	runes := []rune(strings.TrimSpace(key))
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for i, r := range runes {
		switch {
		case r == '_' || r == '-' || r == '.' || unicode.IsSpace(r):
			flush()
			continue
		case unicode.IsUpper(r) && i > 0:
			prev := runes[i-1]
			nextLower := i+1 < len(runes) && unicode.IsLower(runes[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	if len(words) == 0 {
		return key
	}
	if n := len(words); n > 1 {
		switch words[n-1] {
		case "zh", "en", "cn":
			words = append(words[:n-2], words[n-2]+" ("+words[n-1]+")")
		}
	}
	s := strings.Join(words, " ")
	r, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[size:]
}
