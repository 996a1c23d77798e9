package rules

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/kefuhq/kefu"
)

// Mapping says where an order record keeps each fact. Every field lists
// candidate field names, tried in order; the first one the record holds
// wins. A name may be a dotted path into nested objects and lists
// ("payment_history.0.payment_method_id"). Names match a record's keys
// ignoring case, spaces, "_" and "-", so "placed_at" also reads the
// "Placed at" of an order rendered as text.
type Mapping struct {
	OrderID    []string `json:"order_id"`
	CustomerID []string `json:"customer_id"`
	Status     []string `json:"status"`
	// Dates maps a date's name ("placed", "delivered", or any the shop
	// uses in a window's from) to its candidate fields.
	Dates map[string][]string `json:"dates"`
	// Items is the list of line items; ItemID, ItemName and ItemCategory
	// are read from each.
	Items        []string `json:"items"`
	ItemID       []string `json:"item_id"`
	ItemName     []string `json:"item_name"`
	ItemCategory []string `json:"item_category"`
	Payment      []string `json:"payment"`
	// Done is a list of the actions already taken on the order.
	Done []string `json:"done"`
	// DoneFields marks an action as taken when the record holds any of the
	// fields ("exchange": [exchange_items]).
	DoneFields map[string][]string `json:"done_fields"`
	// Categories gives an item its category from its id when the record
	// carries none: a key is an item id, or a prefix of ids when it ends in
	// "*" ("LM-PC-*": personal care). The longest key that matches wins.
	Categories map[string]string `json:"categories"`
}

// DefaultMapping reads the field names common in shops' order exports, in
// English and Chinese: the demo shop's orders, tau2-bench retail's db.json
// and ECom-Bench's orders.json among them.
func DefaultMapping() Mapping {
	return Mapping{
		OrderID:    []string{"order_id", "orderId", "order_number", "订单ID", "订单号", "订单编号", "id"},
		CustomerID: []string{"customer_id", "user_id", "buyer_id", "用户ID", "客户ID"},
		Status:     []string{"status", "order_status", "state", "订单状态", "状态"},
		Dates: map[string][]string{
			DatePlaced:    {"placed_at", "placed", "order_date", "created_at", "created", "ordered_at", "下单时间", "下单日期", "创建时间"},
			DateDelivered: {"delivered_at", "delivered", "delivery_date", "received_at", "签收时间", "签收日期", "收货时间"},
			"shipped":     {"shipped_at", "ship_date", "发货时间"},
		},
		Items:        []string{"items", "line_items", "products", "订单商品列表", "商品列表", "商品"},
		ItemID:       []string{"sku", "item_id", "product_id", "id", "商品ID", "商品编号"},
		ItemName:     []string{"name", "title", "product_name", "商品名称", "名称"},
		ItemCategory: []string{"category", "product_type", "type", "类目", "分类", "商品类目"},
		Payment:      []string{"payment_method", "payment", "payment_history.0.payment_method_id", "支付方式", "付款方式"},
		Done:         []string{"actions_done", "actions", "已办理"},
		DoneFields: map[string][]string{
			string(Exchange):    {"exchange_items"},
			string(Return):      {"return_items"},
			string(ModifyItems): {"modified_items"},
		},
	}
}

// mappingFile is the YAML shape of facts:, each field a name or a list.
type mappingFile struct {
	OrderID      names            `yaml:"order_id"`
	CustomerID   names            `yaml:"customer_id"`
	Status       names            `yaml:"status"`
	Dates        map[string]names `yaml:"dates"`
	Items        names            `yaml:"items"`
	ItemID       names            `yaml:"item_id"`
	ItemName     names            `yaml:"item_name"`
	ItemCategory names            `yaml:"item_category"`
	Payment      names            `yaml:"payment"`
	Done         names            `yaml:"done"`
	DoneFields   map[string]names `yaml:"done_fields"`
	Categories   map[string]string
}

// names is one field name or a list of them.
type names []string

func (n *names) UnmarshalYAML(unmarshal func(any) error) error {
	var one string
	if err := unmarshal(&one); err == nil {
		*n = names{one}
		return nil
	}
	var many []string
	if err := unmarshal(&many); err != nil {
		return fmt.Errorf("a field name or a list of field names is expected")
	}
	*n = many
	return nil
}

// mapping merges the file's facts: over the defaults: a field the file
// names replaces the default's candidates for that field.
func (p parser) mapping(f *mappingFile) (Mapping, error) {
	m := DefaultMapping()
	if f == nil {
		return m, nil
	}
	set := func(dst *[]string, src names, field string) error {
		if src == nil {
			return nil
		}
		if len(src) > maxListItems {
			return p.errAt([]any{"facts", field}, "more than %d names", maxListItems)
		}
		for _, s := range src {
			if strings.TrimSpace(s) == "" {
				return p.errAt([]any{"facts", field}, "an empty field name")
			}
		}
		*dst = append([]string(nil), src...)
		return nil
	}
	for _, x := range []struct {
		dst   *[]string
		src   names
		field string
	}{
		{&m.OrderID, f.OrderID, "order_id"}, {&m.CustomerID, f.CustomerID, "customer_id"}, {&m.Status, f.Status, "status"},
		{&m.Items, f.Items, "items"}, {&m.ItemID, f.ItemID, "item_id"}, {&m.ItemName, f.ItemName, "item_name"},
		{&m.ItemCategory, f.ItemCategory, "item_category"}, {&m.Payment, f.Payment, "payment"}, {&m.Done, f.Done, "done"},
	} {
		if err := set(x.dst, x.src, x.field); err != nil {
			return m, err
		}
	}
	for name, src := range f.Dates {
		var dst []string
		if err := set(&dst, src, "dates."+name); err != nil {
			return m, err
		}
		m.Dates[name] = dst
	}
	for a, src := range f.DoneFields {
		if _, ok := ParseAction(a); !ok {
			return m, p.errAt([]any{"facts", "done_fields", a}, "%q is not an action", a)
		}
		var dst []string
		if err := set(&dst, src, "done_fields."+a); err != nil {
			return m, err
		}
		m.DoneFields[a] = dst
	}
	if len(f.Categories) > 4*maxListItems {
		return m, p.errAt([]any{"facts", "categories"}, "more than %d entries", 4*maxListItems)
	}
	if len(f.Categories) > 0 {
		m.Categories = f.Categories
	}
	return m, nil
}

func (m Mapping) knowsDate(name string) bool { _, ok := m.Dates[name]; return ok }

func (m Mapping) dateNames() []string {
	out := make([]string, 0, len(m.Dates))
	for k := range m.Dates {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Facts reads an order's facts from a record of the shop's (a decoded JSON
// object) through the book's mapping, with dates read as days in the
// shop's time zone.
func (b *Book) Facts(rec map[string]any) (Facts, error) {
	return FactsFromRecord(b.mapping, b.loc, rec)
}

// FactsText reads an order's facts from its text as kefu stores orders
// ("Key: value" lines, line items as "- 1 x Name (SKU), 349.00").
func (b *Book) FactsText(text string) (Facts, error) {
	return FactsFromText(b.mapping, b.loc, text)
}

// maxItems bounds how many line items one record's facts keep.
const maxItems = 500

// FactsFromRecord reads an order's facts from rec through m. loc (nil:
// UTC) is the time zone a date without one is read in. It fails, with code
// kefu.EInvalid, when the record has no status; a missing order id, date,
// item list or payment leaves the fact empty. A date that cannot be read is
// an error naming the field.
func FactsFromRecord(m Mapping, loc *time.Location, rec map[string]any) (Facts, error) {
	if loc == nil {
		loc = time.UTC
	}
	var f Facts
	f.OrderID = scalar(lookup(rec, m.OrderID))
	f.CustomerID = scalar(lookup(rec, m.CustomerID))
	f.Status = scalar(lookup(rec, m.Status))
	if f.Status == "" {
		return f, kefu.Errorf(kefu.EInvalid, "order %s has no status (looked for %s)", orUnknown(f.OrderID), strings.Join(m.Status, ", "))
	}
	for _, name := range m.dateNames() {
		v, field := lookupField(rec, m.Dates[name])
		s := scalar(v)
		if s == "" {
			continue
		}
		t, err := ParseDate(s, loc)
		if err != nil {
			return f, kefu.Errorf(kefu.EInvalid, "order %s: field %s: %q is not a date", orUnknown(f.OrderID), field, s)
		}
		if f.Dates == nil {
			f.Dates = map[string]time.Time{}
		}
		f.Dates[name] = t
	}
	f.Placed, f.Delivered = f.Dates[DatePlaced], f.Dates[DateDelivered]
	if items, ok := lookup(rec, m.Items).([]any); ok {
		for _, it := range items {
			if len(f.Items) == maxItems {
				break
			}
			f.Items = append(f.Items, m.item(it))
		}
	}
	f.Payment = scalar(lookup(rec, m.Payment))
	seen := map[Action]bool{}
	addDone := func(a Action) {
		if !seen[a] {
			seen[a] = true
			f.Done = append(f.Done, a)
		}
	}
	switch v := lookup(rec, m.Done).(type) {
	case []any:
		for _, x := range v {
			if a, ok := ParseAction(scalar(x)); ok {
				addDone(a)
			}
		}
	case string:
		for _, x := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || r == '、' || r == '，' }) {
			if a, ok := ParseAction(x); ok {
				addDone(a)
			}
		}
	}
	for _, a := range sortedKeys(m.DoneFields) {
		if v := lookup(rec, m.DoneFields[a]); v != nil && !empty(v) {
			act, _ := ParseAction(a)
			addDone(act)
		}
	}
	return f, nil
}

func (m Mapping) item(v any) Item {
	var it Item
	switch x := v.(type) {
	case map[string]any:
		it.ID = scalar(lookup(x, m.ItemID))
		it.Name = scalar(lookup(x, m.ItemName))
		it.Category = scalar(lookup(x, m.ItemCategory))
	default:
		// A line item as kefu renders it: "1 x Name (SKU), 349.00".
		s := scalar(x)
		it.Name = s
		if g := renderedItem.FindStringSubmatch(s); g != nil {
			it.Name, it.ID = strings.TrimSpace(g[1]), g[2]
		}
	}
	if it.Category == "" {
		it.Category = m.category(it.ID)
	}
	return it
}

var renderedItem = regexp.MustCompile(`^(?:\d+\s*x\s*)?(.*?)\s*\(([^()\s]+)\)`)

// category returns the category Categories gives id, "" for none.
func (m Mapping) category(id string) string {
	if id == "" || len(m.Categories) == 0 {
		return ""
	}
	if c, ok := m.Categories[id]; ok {
		return c
	}
	best, cat := -1, ""
	for k, c := range m.Categories {
		if p, ok := strings.CutSuffix(k, "*"); ok && strings.HasPrefix(id, p) && len(p) > best {
			best, cat = len(p), c
		}
	}
	return cat
}

// FactsFromText reads an order's facts from its text as kefu renders an
// order record: "Key: value" lines, nested values indented, lists as "- "
// lines under their key.
func FactsFromText(m Mapping, loc *time.Location, text string) (Facts, error) {
	return FactsFromRecord(m, loc, parseText(text))
}

// maxTextBytes bounds the text FactsFromText reads.
const maxTextBytes = 1 << 20

func parseText(text string) map[string]any {
	if len(text) > maxTextBytes {
		text = text[:maxTextBytes]
	}
	rec := map[string]any{}
	var listKey string
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			continue
		}
		indented := line != strings.TrimLeftFunc(line, unicode.IsSpace)
		if strings.HasPrefix(trimmed, "- ") && listKey != "" {
			l, _ := rec[listKey].([]any)
			rec[listKey] = append(l, strings.TrimSpace(trimmed[2:]))
			continue
		}
		if indented {
			continue // a nested object's fields: not facts a rule reads
		}
		k, v, ok := strings.Cut(trimmed, ":")
		if !ok {
			k, v, ok = strings.Cut(trimmed, "：")
		}
		if !ok {
			listKey = ""
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if v == "" {
			listKey = k
			rec[k] = []any{}
			continue
		}
		listKey = ""
		if _, dup := rec[k]; !dup {
			rec[k] = v
		}
	}
	return rec
}

// ParseDate reads a date or a time in the common forms ("2026-09-13",
// "2026-09-13T10:04:00+08:00", "2026-09-13 10:04", "2026/9/13",
// "2026年9月13日") and returns its calendar day in loc at midnight.
func ParseDate(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if len(s) > 64 {
		return time.Time{}, fmt.Errorf("date %.20q… is too long", s)
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return day(t.In(loc), loc), nil
		}
	}
	if g := dateRE.FindStringSubmatch(s); g != nil {
		y, _ := strconv.Atoi(g[1])
		mo, _ := strconv.Atoi(g[2])
		d, _ := strconv.Atoi(g[3])
		if mo >= 1 && mo <= 12 && d >= 1 && d <= 31 {
			t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, loc)
			if t.Day() == d {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date", s)
}

var dateRE = regexp.MustCompile(`^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:$|[ T]\d{1,2}:\d{2})`)

func day(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// lookup returns the value of the first candidate field rec holds.
func lookup(rec map[string]any, cands []string) any {
	v, _ := lookupField(rec, cands)
	return v
}

func lookupField(rec map[string]any, cands []string) (any, string) {
	for _, c := range cands {
		if v, ok := path(rec, c); ok && v != nil {
			return v, c
		}
	}
	return nil, ""
}

func path(v any, p string) (any, bool) {
	if m, ok := v.(map[string]any); ok {
		if x, ok := field(m, p); ok { // a key that holds dots itself
			return x, true
		}
	}
	for _, step := range strings.Split(p, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = field(x, step); !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(step)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func field(m map[string]any, name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	want := keyNorm(name)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a stable pick when two keys fold alike
	for _, k := range keys {
		if keyNorm(k) == want {
			return m[k], true
		}
	}
	return nil, false
}

func keyNorm(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r == '_' || r == '-' || unicode.IsSpace(r) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return strings.TrimSpace(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}

func empty(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x) == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return v == nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func orUnknown(id string) string {
	if id == "" {
		return "(no id)"
	}
	return id
}
