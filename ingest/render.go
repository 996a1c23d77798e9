package ingest

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kefuhq/kefu"
)

// Field names recognised in records, compared after normKey ("Order ID",
// "order_id" and "orderId" are the same field). The first present wins.
var (
	idKeys       = []string{"id", "sku", "orderid", "productid", "faqid", "code"}
	customerKeys = []string{"customerid", "userid", "customer"}
	titleKeys    = []string{"title", "name", "question", "productname"}
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
	var b strings.Builder
	for _, r := range k {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
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
			if normKey(f.key) == n {
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
			if normKey(f.key) != n {
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
	}

	skip := map[int]bool{}
	for i, f := range o {
		if slices.Contains(localeKeys, normKey(f.key)) {
			skip[i] = true
		}
	}
	var b strings.Builder
	if typ == kefu.TypeFAQ {
		q, qi := o.scalar(questionKeys...)
		a, ai := o.scalar(answerKeys...)
		if q != "" && a != "" {
			fmt.Fprintf(&b, "Q: %s\nA: %s\n", q, a)
			skip[qi], skip[ai] = true, true
		}
	}
	if idAt < 0 && rec.key != "" {
		fmt.Fprintf(&b, "%s: %s\n", idLabel(typ), id)
	}
	for i, f := range o {
		if !skip[i] {
			renderField(&b, f.key, f.val, 0)
		}
	}
	text := cleanText(b.String())
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
	if title == "" {
		if typ == kefu.TypePolicy {
			title = titleOfName(name) + " " + id
		} else {
			title = typeLabel(typ) + " " + id
		}
	}
	title = oneLine(title)

	locale := ""
	if l, _ := o.scalar(localeKeys...); l != "" {
		locale = normLocale(l)
	} else if l := localeOfName(name); l != "" {
		locale = l
	} else if !bilingual(o) {
		locale = detectLocale(text)
	}

	doc := kefu.Document{
		ID:         f.source + "#" + id,
		Type:       typ,
		Title:      title,
		Source:     f.source,
		Locale:     locale,
		CustomerID: customer,
		Text:       text,
		Meta:       map[string]string{"record_id": id},
	}
	return unit{
		doc:      doc,
		sections: []section{{body: text, carry: title}},
		line:     rec.line,
		record:   rec.index,
	}, ""
}

// recordType detects a record's type: a customer field makes it an order
// whatever the file is called, so private data never becomes public by a
// naming accident; then the file name, a wrapping key, and the fields.
func (in *Ingester) recordType(rec record, name string) string {
	o := rec.fields
	if in.hasCustomer(o) {
		return kefu.TypeOrder
	}
	if t := typeOfName(name); t != "" {
		return t
	}
	if rec.hint != "" {
		return rec.hint
	}
	if o.lookup(questionKeys...) >= 0 && o.lookup(answerKeys...) >= 0 {
		return kefu.TypeFAQ
	}
	for _, f := range o {
		if n := normKey(f.key); n == "sku" || strings.Contains(n, "price") {
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

func typeLabel(typ string) string {
	switch typ {
	case kefu.TypeOrder:
		return "Order"
	case kefu.TypeProduct:
		return "Product"
	case kefu.TypeFAQ:
		return "FAQ"
	}
	return "Record"
}

func idLabel(typ string) string {
	if typ == kefu.TypePolicy {
		return "Id"
	}
	return typeLabel(typ) + " id"
}

// renderField writes a field as readable "Key: value" lines. Nested
// objects are indented below their key, lists of objects become one
// "- ..." line per object, empty values are left out.
func renderField(b *strings.Builder, key string, val any, indent int) {
	pad := strings.Repeat("  ", indent)
	label := humanize(key)
	switch v := val.(type) {
	case object:
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
		case scalars:
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
				if used[i] || normKey(f.key) != n {
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
