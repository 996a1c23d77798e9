package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
)

// recordSink collects what a loader yields.
type recordSink struct {
	units []unit
	fails []string // "line/record: reason"
	skips []string // "line/record: reason"
}

func (s *recordSink) emit(u unit) error { s.units = append(s.units, u); return nil }

func (s *recordSink) fail(line, record int, reason string) {
	s.fails = append(s.fails, fmt.Sprintf("%d/%d: %s", line, record, reason))
}

func (s *recordSink) skip(line, record int, reason string) {
	s.skips = append(s.skips, fmt.Sprintf("%d/%d: %s", line, record, reason))
}

// loadFile runs one loader on a fixture, with the fixture path as source.
func loadFile(t *testing.T, opts Options, p string) *recordSink {
	t.Helper()
	s := &recordSink{}
	in := New(nil, nil, opts)
	if err := in.loadTo(context.Background(), osFS{}, file{name: p, path: p, source: p}, s); err != nil {
		t.Fatalf("load %s: %v", p, err)
	}
	return s
}

// wantDoc describes a document a fixture must yield. Empty fields are not
// checked; Text lists substrings the text must contain.
type wantDoc struct {
	ID, Type, Title, Locale, Customer string
	Text                              []string
	NotText                           []string
	Meta                              map[string]string
}

func checkDoc(t *testing.T, d kefu.Document, w wantDoc) {
	t.Helper()
	if d.ID != w.ID {
		t.Errorf("ID = %q, want %q", d.ID, w.ID)
	}
	if w.Type != "" && d.Type != w.Type {
		t.Errorf("%s: Type = %q, want %q", d.ID, d.Type, w.Type)
	}
	if w.Title != "" && d.Title != w.Title {
		t.Errorf("%s: Title = %q, want %q", d.ID, d.Title, w.Title)
	}
	if w.Locale != "-" && d.Locale != w.Locale {
		t.Errorf("%s: Locale = %q, want %q", d.ID, d.Locale, w.Locale)
	}
	if d.CustomerID != w.Customer {
		t.Errorf("%s: CustomerID = %q, want %q", d.ID, d.CustomerID, w.Customer)
	}
	for _, s := range w.Text {
		if !strings.Contains(d.Text, s) {
			t.Errorf("%s: text lacks %q:\n%s", d.ID, s, d.Text)
		}
	}
	for _, s := range w.NotText {
		if strings.Contains(d.Text, s) {
			t.Errorf("%s: text has %q:\n%s", d.ID, s, d.Text)
		}
	}
	for k, v := range w.Meta {
		if d.Meta[k] != v {
			t.Errorf("%s: Meta[%q] = %q, want %q", d.ID, k, d.Meta[k], v)
		}
	}
}

func TestLoaders(t *testing.T) {
	const shop = "testdata/shop/"
	const loose = "testdata/loose/"
	tests := []struct {
		name  string
		opts  Options
		path  string
		docs  []wantDoc
		fails []string // substrings, in order
	}{
		{
			name: "markdown with front matter",
			path: shop + "policies/returns.en.md",
			docs: []wantDoc{{
				ID: shop + "policies/returns.en.md", Type: kefu.TypePolicy, Title: "Returns and refunds", Locale: "en",
				Text:    []string{"# Returns policy", "## Opened items", "# not a heading: inside a code fence"},
				NotText: []string{"effective_from", "---"},
				Meta:    map[string]string{"version": "3", "effective_from": "2024-03-01", "effective_to": "2025-02-28", "tags": "returns, refunds"},
			}},
		},
		{
			name: "markdown in Chinese, title from the first heading",
			path: shop + "policies/shipping.md",
			docs: []wantDoc{{ID: shop + "policies/shipping.md", Type: kefu.TypePolicy, Title: "配送说明", Locale: "zh", Text: []string{"满99元包邮"}}},
		},
		{
			name: "html drops navigation, scripts, header and footer, keeps tables",
			path: shop + "help.html",
			docs: []wantDoc{{
				ID: shop + "help.html", Type: kefu.TypePolicy, Title: "Help centre: delivery times", Locale: "en",
				Text:    []string{"# Delivery times", "## By region", "| Jiangsu, Zhejiang, Shanghai | 1-2", "same day"},
				NotText: []string{"Cart", "Sign in", "Site map", "Copyright", "tracking", "trackPageView", "color: red"},
			}},
		},
		{
			name: "plain text",
			path: shop + "store-hours.txt",
			docs: []wantDoc{{ID: shop + "store-hours.txt", Type: kefu.TypePolicy, Title: "Store hours", Locale: "en", Text: []string{"10:00 to 22:00"}}},
		},
		{
			name: "csv with header, blank row skipped",
			path: shop + "products.csv",
			docs: []wantDoc{
				{ID: shop + "products.csv#LM-HP-001", Type: kefu.TypeProduct, Title: "Lumi AirBeat Pro Wireless Earbuds", Locale: "en",
					Text: []string{"Sku: LM-HP-001", "Price: 599.00", "Colour: black, white"}, Meta: map[string]string{"record_id": "LM-HP-001"}},
				{ID: shop + "products.csv#LM-SP-001", Type: kefu.TypeProduct, Locale: "en"},
				{ID: shop + "products.csv#LM-KA-003", Type: kefu.TypeProduct, Title: "Lumi CrispAir Air Fryer 5.5 L", Locale: "en", NotText: []string{"Colour"}},
			},
		},
		{
			name: "json array, bilingual product has no locale",
			path: shop + "catalog.json",
			docs: []wantDoc{
				{ID: shop + "catalog.json#LM-PC-001", Type: kefu.TypeProduct, Title: "Lumi SonicClean Electric Toothbrush T5", Locale: "",
					Text: []string{"Sku: LM-PC-001", "Name (zh): 鹿米 SonicClean 电动牙刷 T5", "In stock: yes", "Attributes:\n  Battery life: 30 days\n  Modes: clean, white, sensitive", "Description (zh): "}},
				{ID: shop + "catalog.json#LM-PC-002", Type: kefu.TypeProduct, Locale: "en", NotText: []string{"Tags"}},
			},
		},
		{
			name: "json object of orders keyed by id",
			path: shop + "orders.json",
			docs: []wantDoc{
				{ID: shop + "orders.json#W240315-1001", Type: kefu.TypeOrder, Title: "Order W240315-1001", Locale: "en", Customer: "C1001",
					Text: []string{
						"Order id: W240315-1001",
						"Tracking number: SF1409283756120",
						"Items:\n- 1 x Lumi AirBeat Pro Wireless Earbuds (LM-HP-001), 599.00\n- 2 x Voltiq USB-C Cable (LM-PA-003), 39.00\n",
						"Shipping address:\n  City: Hangzhou\n  District: Xihu",
					}},
				{ID: shop + "orders.json#W240316-1002", Type: kefu.TypeOrder, Customer: "C1002", Locale: "en"},
			},
		},
		{
			name: "jsonl with a bad line: the others load",
			path: shop + "faq.jsonl",
			docs: []wantDoc{
				{ID: shop + "faq.jsonl#faq-01", Type: kefu.TypeFAQ, Title: "How do I track my order?", Locale: "en",
					Text: []string{"Q: How do I track my order?\nA: Open Orders", "Id: faq-01"}, NotText: []string{"Locale"}},
				{ID: shop + "faq.jsonl#faq-03", Type: kefu.TypeFAQ, Title: "怎么查物流？", Locale: "zh", Text: []string{"Q: 怎么查物流？\nA: "}},
				{ID: shop + "faq.jsonl#faq-04", Type: kefu.TypeFAQ, Locale: "en", Text: []string{"Category: shipping"}},
			},
			fails: []string{"2/0: invalid JSON"},
		},
		{
			name: "order without a customer fails alone",
			path: shop + "orders.jsonl",
			docs: []wantDoc{
				{ID: shop + "orders.jsonl#W240401-2001", Type: kefu.TypeOrder, Customer: "C2001", Locale: "en",
					Text: []string{"Items:\n- 1 x Lumi CrispAir Air Fryer 5.5 L (LM-KA-003), 349.00"}},
				{ID: shop + "orders.jsonl#W240402-2003", Type: kefu.TypeOrder, Customer: "C2002", Locale: "en"},
			},
			fails: []string{"2/0: order W240401-2002: no customer id"},
		},
		{
			name: "customer field named by option",
			opts: Options{CustomerField: "status", IDField: "order_id"},
			path: shop + "orders.jsonl",
			docs: []wantDoc{
				{ID: shop + "orders.jsonl#W240401-2001", Customer: "processing", Locale: "-"},
				{ID: shop + "orders.jsonl#W240401-2002", Customer: "processing", Locale: "-"},
				{ID: shop + "orders.jsonl#W240402-2003", Customer: "cancelled", Locale: "-"},
			},
		},
		{
			name:  "id field named by option and missing",
			opts:  Options{IDField: "ref"},
			path:  loose + "single.json",
			fails: []string{`1/1: no "ref" field`},
		},
		{
			name: "type forced by option",
			opts: Options{Type: kefu.TypeFAQ, TitleField: "sku"},
			path: loose + "single.json",
			docs: []wantDoc{{ID: loose + "single.json#X-1", Type: kefu.TypeFAQ, Title: "X-1", Locale: "en"}},
		},
		{
			name: "object of records without a wrapper",
			path: loose + "keyed.json",
			docs: []wantDoc{
				{ID: loose + "keyed.json#W1", Type: kefu.TypeOrder, Customer: "C1", Locale: "en", Text: []string{"Order id: W1\n"}},
				{ID: loose + "keyed.json#W2", Type: kefu.TypeOrder, Customer: "C2", Locale: "en"},
			},
		},
		{
			name: "single object",
			path: loose + "single.json",
			docs: []wantDoc{{ID: loose + "single.json#X-1", Type: kefu.TypeProduct, Title: "Single product", Locale: "en"}},
		},
		{
			name:  "array with a non-object",
			path:  loose + "mixed.json",
			docs:  []wantDoc{{ID: loose + "mixed.json#A-1", Locale: "en", Title: "ok"}, {ID: loose + "mixed.json#A-1", Locale: "en", Title: "dup"}},
			fails: []string{"1/2: record is a string, not an object"},
		},
		{
			name:  "syntax error keeps the records before it",
			path:  loose + "broken.json",
			docs:  []wantDoc{{ID: loose + "broken.json#B-1", Locale: "en"}},
			fails: []string{"2/2: invalid JSON: invalid character 'b'"},
		},
		{
			name:  "data after the value",
			path:  loose + "not-array.json",
			docs:  []wantDoc{{ID: loose + "not-array.json#1", Type: kefu.TypePolicy, Title: "Not array 1", Locale: "en"}},
			fails: []string{"2/0: unexpected data after the JSON value"},
		},
		{
			name:  "bad front matter",
			path:  loose + "bad-front.md",
			fails: []string{"0/0: front matter: yaml:"},
		},
		{
			name:  "unknown type in front matter",
			path:  loose + "bad-type.md",
			fails: []string{`0/0: front matter type "recipe" is not one of`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := loadFile(t, tt.opts, tt.path)
			if len(s.units) != len(tt.docs) {
				for _, u := range s.units {
					t.Logf("got %s", u.doc.ID)
				}
				t.Fatalf("got %d documents, want %d (failures %q)", len(s.units), len(tt.docs), s.fails)
			}
			for i, w := range tt.docs {
				checkDoc(t, s.units[i].doc, w)
			}
			if len(s.fails) != len(tt.fails) {
				t.Fatalf("failures = %q, want %q", s.fails, tt.fails)
			}
			for i, f := range tt.fails {
				if !strings.HasPrefix(s.fails[i], f) {
					t.Errorf("failure %d = %q, want prefix %q", i, s.fails[i], f)
				}
			}
		})
	}
}

func TestCSVVariants(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		ids   []string
		fails []string
		text  string
	}{
		{"semicolons and a BOM", "\ufeffsku;name;price\nA-1;Kettle;99\n", []string{"A-1"}, nil, "Name: Kettle"},
		{"tabs", "sku\tname\nA-1\tKettle\n", []string{"A-1"}, nil, "Sku: A-1"},
		{"too many fields", "sku,name\nA-1,Kettle\nA-2,Lamp,extra\nA-3,Fan\n", []string{"A-1", "A-3"}, []string{"3/0: row has 3 fields"}, ""},
		{"quoted multi-line field", "sku,description\nA-1,\"two\nlines\"\nA-2,one\n", []string{"A-1", "A-2"}, nil, "Description: two\n  lines"},
		{"header only", "sku,name\n", nil, nil, ""},
		{"empty", "", nil, []string{"0/0: empty file"}, ""},
		{"GB18030 from a spreadsheet", gb18030("sku,名称\nA-1,电热水壶\n"), []string{"A-1"}, nil, "名称: 电热水壶"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeTemp(t, "items.csv", tt.data)
			s := loadFile(t, Options{}, p)
			var ids []string
			for _, u := range s.units {
				ids = append(ids, u.doc.Meta["record_id"])
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.ids) {
				t.Errorf("ids = %v, want %v", ids, tt.ids)
			}
			if fmt.Sprint(s.fails) != fmt.Sprint(prefixes(s.fails, tt.fails)) {
				t.Errorf("failures = %q, want %q", s.fails, tt.fails)
			}
			if tt.text != "" && (len(s.units) == 0 || !strings.Contains(s.units[0].doc.Text, tt.text)) {
				t.Errorf("first text lacks %q: %+v", tt.text, s.units)
			}
		})
	}
}

// prefixes returns got when each element starts with the matching want,
// else want, so that a comparison shows both.
func prefixes(got, want []string) []string {
	if len(got) != len(want) {
		return want
	}
	for i := range got {
		if !strings.HasPrefix(got[i], want[i]) {
			return want
		}
	}
	return got
}

func TestJSONLVariants(t *testing.T) {
	long := `{"id": "x", "text": "` + strings.Repeat("a", maxLineBytes) + `"}`
	tests := []struct {
		name  string
		data  string
		ids   []string
		fails []string
	}{
		{"crlf and no final newline", "{\"id\": \"a\", \"q\": 1}\r\n{\"id\": \"b\"}", []string{"a", "b"}, nil},
		{"not an object", "[1, 2]\n{\"id\": \"b\"}\n", []string{"b"}, []string{"1/0: line is an array, not a JSON object"}},
		{"two values on a line", "{\"id\": \"a\"} {\"id\": \"b\"}\n", nil, []string{"1/0: invalid JSON: more than one value"}},
		{"blank lines", "\n\n{\"id\": \"c\"}\n\n", []string{"c"}, nil},
		{"position as id", "{\"note\": \"first\"}\n{\"note\": \"second\"}\n", []string{"1", "2"}, nil},
		{"too long a line", long + "\n{\"id\": \"after\"}\n", []string{"after"}, []string{"1/0: line longer than"}},
		{"too deep", strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n", nil, []string{"1/0: invalid JSON: values nested more than"}},
		{"empty record", "{\"id\": \"e\", \"note\": \"\"}\n", []string{"e"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeTemp(t, "notes.jsonl", tt.data)
			s := loadFile(t, Options{}, p)
			var ids []string
			for _, u := range s.units {
				ids = append(ids, u.doc.Meta["record_id"])
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.ids) {
				t.Errorf("ids = %v, want %v", ids, tt.ids)
			}
			if fmt.Sprint(s.fails) != fmt.Sprint(prefixes(s.fails, tt.fails)) {
				t.Errorf("failures = %q, want %q", s.fails, tt.fails)
			}
		})
	}
}
