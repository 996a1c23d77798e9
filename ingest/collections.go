package ingest

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode"

	"github.com/kefuhq/kefu/tokenize"
)

// A JSON file may hold several collections of records, keyed by what they
// hold ({"products": {...}, "users": {...}, "orders": {...}}), and may wrap
// its records in levels of keys ({"jd": {"<shop id>": {"<user id>":
// {"<order id>": {...}}}}}). recordsOf walks such a file down to its
// records: an object whose values are all objects is a level of keys or a
// collection keyed by record id, told apart by its values: objects whose own
// values are all objects again are further levels, anything else is a
// record. The keys walked through make the record's path.

// recordsOf splits a top-level JSON object into records. A record under a
// key that names people's personal data is left out and reported through
// skip, unless Options.Records names that key.
func (in *Ingester) recordsOf(obj object, text string, ls lines, skip func(line int, reason string)) []record {
	w := walker{in: in, text: text, ls: ls, skip: skip}
	if len(obj) == 1 && typeOfName(obj[0].key) != "" {
		// {"product": {...}}: one record under a key naming its type.
		if v, ok := obj[0].val.(object); ok && !allObjects(v) && !allCollections(v) {
			return []record{{fields: v, line: ls.at(text, obj[0].off), index: 1, hint: typeOfName(obj[0].key)}}
		}
	}
	switch {
	case allObjects(obj):
		w.container(nil, obj, 1)
	case allCollections(obj):
		for _, f := range obj {
			w.value([]string{f.key}, f.val, w.ls.at(w.text, f.off))
		}
	default:
		return []record{{fields: obj, line: 1, index: 1}}
	}
	return w.recs
}

type walker struct {
	in   *Ingester
	text string
	ls   lines
	skip func(line int, reason string)
	recs []record
	// skipped holds the paths already reported, so that a skipped
	// collection is reported once, not once per record.
	skipped map[string]bool
}

// value walks a collection: an array of records or an object of levels or
// records.
func (w *walker) value(keys []string, v any, line int) {
	switch v := v.(type) {
	case array:
		if !w.admit(keys, line) {
			return
		}
		for _, e := range v {
			w.add(recordOf(e.val, record{line: w.ls.at(w.text, e.off), path: keys}))
		}
	case object:
		switch {
		case allObjects(v):
			w.container(keys, v, line)
		case allCollections(v):
			for _, f := range v {
				w.value(append(slices.Clip(keys), f.key), f.val, w.ls.at(w.text, f.off))
			}
		default:
			if w.admit(keys, line) {
				w.add(record{fields: v, line: line, path: keys})
			}
		}
	}
}

// container walks an object whose values are all objects.
func (w *walker) container(keys []string, obj object, line int) {
	levels := true
	for _, f := range obj {
		if v := f.val.(object); !allObjects(v) && !allCollections(v) {
			levels = false
			break
		}
	}
	if levels && len(keys) < maxDepth {
		for _, f := range obj {
			w.value(append(slices.Clip(keys), f.key), f.val, w.ls.at(w.text, f.off))
		}
		return
	}
	if !w.admit(keys, line) {
		return
	}
	for _, f := range obj {
		w.add(record{fields: f.val.(object), line: w.ls.at(w.text, f.off), key: f.key, path: keys})
	}
}

func (w *walker) add(rec record) {
	rec.index = len(w.recs) + 1
	rec.hint = hintOfPath(rec.path)
	w.recs = append(w.recs, rec)
}

// admit reports whether the records under keys are to be loaded: not when
// Options.Records names other collections, nor when a key names personal
// data that Options.Records does not name. What is left out is reported
// once per top-level collection, or per collection named for people.
func (w *walker) admit(keys []string, line int) bool {
	reason, scope := w.in.excluded(keys)
	if reason == "" {
		return true
	}
	id := strings.Join(scope, "\x00")
	if w.skipped == nil {
		w.skipped = map[string]bool{}
	}
	if !w.skipped[id] {
		w.skipped[id] = true
		w.skip(line, reason)
	}
	return false
}

// excluded says why the records under keys are not loaded, or "", and
// the keys the reason is about.
func (in *Ingester) excluded(keys []string) (string, []string) {
	named := func(k string) bool {
		for _, r := range in.opts.Records {
			if normKey(r) == normKey(k) {
				return true
			}
		}
		return false
	}
	if len(in.opts.Records) > 0 && len(keys) > 0 && !slices.ContainsFunc(keys, named) {
		return fmt.Sprintf("collection %q skipped: not among the collections chosen (%s)", keys[0], strings.Join(in.opts.Records, ", ")), keys[:1]
	}
	for i, k := range keys {
		if personalName(k) && !named(k) {
			return fmt.Sprintf("collection %q skipped: it holds people's personal data, not shop knowledge; choose it by name among the records to load it anyway", strings.Join(keys[:i+1], "/")), keys[:i+1]
		}
	}
	return "", nil
}

// excludedFile says why a structured file is not loaded, or "": its name
// says it holds people's personal data ("users.json", "customers.csv").
func (in *Ingester) excludedFile(name string) string {
	stem, _, _ := strings.Cut(path.Base(name), ".")
	if !personalName(stem) {
		return ""
	}
	for _, r := range in.opts.Records {
		if normKey(r) == normKey(stem) {
			return ""
		}
	}
	return fmt.Sprintf("skipped: by its name the file holds people's personal data, not shop knowledge; choose %q by name among the records to load it anyway", stem)
}

// hintOfPath is the document type suggested by the innermost key of the
// path that names one ("orders", "products").
func hintOfPath(keys []string) string {
	for i := len(keys) - 1; i >= 0; i-- {
		if t := typeOfName(keys[i]); t != "" {
			return t
		}
	}
	return ""
}

// allCollections reports whether every value of o is a collection: an
// array holding objects or an object of objects, and there is one.
func allCollections(o object) bool {
	if len(o) == 0 {
		return false
	}
	for _, f := range o {
		switch v := f.val.(type) {
		case array:
			if !hasObject(v) {
				return false
			}
		case object:
			if !allObjects(v) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// keyWords splits a key or a name into lower-case words: "users_info",
// "userProfiles" and "User Info" give "users info", "user profiles" and
// "user info". Han text is one word per run.
func keyWords(k string) []string {
	var words []string
	var cur []rune
	runes := []rune(k)
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for i, r := range runes {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			continue
		case i > 0 && unicode.IsUpper(r) && unicode.IsLower(runes[i-1]):
			flush()
		case i > 0 && tokenize.IsCJK(r) != tokenize.IsCJK(runes[i-1]):
			flush()
		}
		cur = append(cur, r)
	}
	flush()
	return words
}

// personalName reports whether a collection or file name says that it
// holds people's personal data: user accounts, customers, members.
func personalName(name string) bool {
	for _, w := range keyWords(name) {
		switch w {
		case "user", "users", "customer", "customers", "account", "accounts", "member", "members",
			"profile", "profiles", "people", "person", "persons", "userinfo", "usersinfo":
			return true
		}
		for _, zh := range []string{"用户", "客户", "顾客", "会员", "买家"} {
			if strings.Contains(w, zh) {
				return true
			}
		}
	}
	return false
}

// personalField returns the first key in o, nested ones included, whose
// value is a person's contact details (a phone number, an email address,
// a recipient, an ID card number), or "". Such a record is private; see
// recordUnit. Both the key and the value must look the part, so that a
// product's "phone": "iPhone 12 and later" or a guide's "Change Phone"
// section are not taken for one.
func personalField(o object) string {
	for _, f := range o {
		switch v := f.val.(type) {
		case object:
			if k := personalField(v); k != "" {
				return k
			}
		case array:
			for _, e := range v {
				if sub, ok := e.val.(object); ok {
					if k := personalField(sub); k != "" {
						return k
					}
				}
			}
		default:
			if personalValue(personalKey(f.key), scalarText(v)) {
				return f.key
			}
		}
	}
	return ""
}

// Kinds of contact details, by field name.
const (
	contactPhone = "phone"
	contactEmail = "email"
	contactOther = "other" // a recipient's name, a home address, an ID number
)

// personalValue reports whether a value fits the kind of contact detail
// its field is named for.
func personalValue(kind, v string) bool {
	switch kind {
	case contactPhone:
		digits := 0
		for _, r := range v {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		return digits >= 7
	case contactEmail:
		at := strings.IndexByte(v, '@')
		return at > 0 && strings.Contains(v[at:], ".")
	case contactOther:
		return v != ""
	}
	return false
}

// personalKey tells from a field's name what kind of contact detail it
// holds, or "": "phone" and "收件人电话" hold phones, "email_address" an
// email, "recipient" and "收货地址" other details; "phone_output" none, nor
// the shop's own "support_email" or "客服电话".
func personalKey(k string) string {
	// The shop's own contact details are public.
	for _, zh := range []string{"客服", "店铺", "商家", "售后", "厂家", "门店"} {
		if strings.Contains(k, zh) {
			return ""
		}
	}
	words := keyWords(k)
	if len(words) > 0 {
		switch words[0] {
		case "support", "service", "store", "shop", "seller", "merchant", "vendor", "brand", "manufacturer", "company", "business":
			return ""
		}
	}
	for _, zh := range []string{"电话", "手机", "联系方式"} {
		if strings.Contains(k, zh) {
			return contactPhone
		}
	}
	if strings.Contains(k, "邮箱") {
		return contactEmail
	}
	for _, zh := range []string{"身份证", "收件人", "收货人", "联系人", "收货地址"} {
		if strings.Contains(k, zh) {
			return contactOther
		}
	}
	if len(words) == 0 {
		return ""
	}
	for _, w := range words {
		switch w {
		case "email":
			return contactEmail
		case "telephone":
			return contactPhone
		case "recipient", "consignee", "passport", "ssn":
			return contactOther
		}
	}
	last := words[len(words)-1]
	if len(words) > 1 {
		switch last {
		case "number", "no", "num", "nr":
			last = words[len(words)-2]
		case "address", "addr":
			switch words[len(words)-2] {
			case "shipping", "billing", "home", "delivery", "street", "postal":
				return contactOther
			}
		}
	}
	switch last {
	case "phone", "tel", "mobile", "cellphone", "cell":
		return contactPhone
	}
	return ""
}
