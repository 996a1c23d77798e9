package ingest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kefuhq/kefu"
)

const nested = "testdata/nested/"

func TestCollections(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		path  string
		docs  []wantDoc
		fails []string // prefixes, in order
		skips []string // substrings, in order
	}{
		{
			name: "collections by key; personal data skipped",
			path: nested + "db.json",
			docs: []wantDoc{
				{ID: nested + "db.json#P100", Type: kefu.TypeProduct, Title: "Lumi Kettle", Locale: "en",
					Text: []string{
						"Variants:\n- Item id: V1, Options: (Colour: white, Capacity: 1.5 L), Available: yes, Price: 199\n- Item id: V2,",
					},
					NotText: []string{"Product id: P100\nName"}, // the key is not repeated when a field holds it
				},
				{ID: nested + "db.json##W100", Type: kefu.TypeOrder, Customer: "ana_li_1", Title: "Order #W100", Locale: "en",
					Text: []string{"Order id: #W100\nUser id: ana_li_1", "Tracking id: TRK-7731"}},
			},
			skips: []string{`collection "users" skipped: it holds people's personal data`},
		},
		{
			name: "chosen collections",
			opts: Options{Records: []string{"orders"}},
			path: nested + "db.json",
			docs: []wantDoc{{ID: nested + "db.json##W100", Type: kefu.TypeOrder, Customer: "ana_li_1", Locale: "en"}},
			skips: []string{
				`collection "products" skipped: not among the collections chosen (orders)`,
				`collection "users" skipped: not among`,
			},
		},
		{
			name:  "a personal collection loads when named, private to its person",
			opts:  Options{Records: []string{"users"}},
			path:  nested + "db.json",
			docs:  []wantDoc{{ID: nested + "db.json#ana_li_1", Type: kefu.TypeOrder, Customer: "ana_li_1", Locale: "en"}},
			skips: []string{`"products" skipped: not among`, `"orders" skipped: not among`},
		},
		{
			name: "named levels of keys give the owner",
			opts: Options{Levels: []string{"platform", "-", "customer_id"}},
			path: nested + "shop.json",
			docs: []wantDoc{
				{ID: nested + "shop.json#1001", Type: kefu.TypeOrder, Customer: "buyer-ana", Title: "订单 1001", Locale: "zh",
					Text:    []string{"订单号: 1001\n物流单号: JD0001", "收件人电话: 15500001111"},
					NotText: []string{"Platform", "buyer-ana"},
					Meta:    map[string]string{"platform": "jd", "customer_id": "buyer-ana", "record_id": "1001"}},
				{ID: nested + "shop.json#1002", Type: kefu.TypeOrder, Customer: "buyer-bo", Locale: "zh"},
			},
		},
		{
			name:  "contact details without an owner fail; the rest loads",
			path:  nested + "shop.json",
			docs:  []wantDoc{{ID: nested + "shop.json#1002", Type: kefu.TypePolicy, Title: "Shop 1002", Locale: "zh"}},
			fails: []string{"5/1: record 1001 holds personal data (收件人姓名) but no customer id"},
		},
		{
			name:  "invoices with phone numbers fail",
			path:  nested + "invoices.json",
			fails: []string{"2/1: record 1001 holds personal data (电话号码)"},
		},
		{
			name: "a set type vouches that records are public",
			opts: Options{Type: kefu.TypePolicy},
			path: nested + "invoices.json",
			docs: []wantDoc{{ID: nested + "invoices.json#1001", Type: kefu.TypePolicy, Locale: "zh"}},
		},
		{
			name:  "a file named for people is skipped",
			path:  nested + "users_info.json",
			skips: []string{"skipped: by its name the file holds people's personal data"},
		},
		{
			name: "a file named for people loads when named, private",
			opts: Options{Records: []string{"users_info"}},
			path: nested + "users_info.json",
			docs: []wantDoc{{ID: nested + "users_info.json#buyer-ana", Type: kefu.TypeOrder, Customer: "buyer-ana", Locale: "zh"}},
		},
		{
			name: "fields named like contact details that hold none",
			path: nested + "gadgets.json",
			docs: []wantDoc{
				{ID: nested + "gadgets.json#G-1", Type: kefu.TypeProduct, Locale: "en", Text: []string{"Phone: iPhone 12 and later"}},
				{ID: nested + "gadgets.json#G-2", Type: kefu.TypeProduct, Locale: "en"},
			},
			// The shop's own support address is public.
		},
		{
			name: "a multi-line content field is the record's prose",
			path: nested + "kb.jsonl",
			docs: []wantDoc{
				{ID: nested + "kb.jsonl#kb-1", Type: kefu.TypePolicy, Title: "Opening a checking account", Locale: "en",
					Text:    []string{"Title: Opening a checking account\n\n## Eligibility\n\nThe customer must be", "## Steps\n\n1. Verify"},
					NotText: []string{"Content:"}},
				{ID: nested + "kb.jsonl#kb-2", Locale: "en", Text: []string{"Content: Daily card limit is 5,000."}},
			},
		},
		{
			name: "rows grouped by a field, some fields shown",
			opts: Options{GroupBy: "ASIN", Fields: []string{"title", "candidate", "source"}, Type: kefu.TypeProduct},
			path: nested + "answers.csv",
			docs: []wantDoc{
				{ID: nested + "answers.csv#B001", Type: kefu.TypeProduct, Title: "Crisper Drawer 240337103", Locale: "en",
					Text: []string{"Title: Crisper Drawer 240337103\nCandidate:\n" +
						"- fits refrigerators calling for part 240337103 (Source: cqa)\n" +
						"- stores fruits and vegetables at the right humidity (Source: bullet)\n" +
						"- hand wash only (Source: review)"},
					NotText: []string{"dishwasher", "Label", "Qid", "ASIN"}},
				{ID: nested + "answers.csv#B002", Title: "Quiet Fan", Locale: "en", Text: []string{"Candidate: runs at 25 dB on the lowest setting\nSource: attribute"}},
			},
		},
		{
			name:  "grouping needs the field",
			opts:  Options{GroupBy: "sku"},
			path:  nested + "answers.csv",
			fails: []string{`2/0: no "sku" field to group by`, "3/0", "4/0", "5/0", "6/0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := loadFile(t, tt.opts, tt.path)
			if len(s.units) != len(tt.docs) {
				for _, u := range s.units {
					t.Logf("got %s:\n%s", u.doc.ID, u.doc.Text)
				}
				t.Fatalf("got %d documents, want %d (failures %q, skips %q)", len(s.units), len(tt.docs), s.fails, s.skips)
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
			if len(s.skips) != len(tt.skips) {
				t.Fatalf("skips = %q, want %q", s.skips, tt.skips)
			}
			for i, sk := range tt.skips {
				if !strings.Contains(s.skips[i], sk) {
					t.Errorf("skip %d = %q, want %q", i, s.skips[i], sk)
				}
			}
		})
	}
}

func TestSkippedInSummary(t *testing.T) {
	st := newMemStore()
	sum, err := New(st, &hashEmbedder{}, Options{}).Run(context.Background(), nested+"db.json", nested+"users_info.json")
	if err != nil {
		t.Fatal(err)
	}
	if sum.Documents != 2 || len(sum.Failed) != 0 || len(sum.Skipped) != 2 {
		t.Fatalf("summary:\n%s", sum)
	}
	if got := sum.Skipped[0].String(); !strings.HasPrefix(got, nested+"db.json:12: collection \"users\" skipped") {
		t.Errorf("skip = %q", got)
	}
	if !strings.Contains(sum.String(), "skipped:   2\n") {
		t.Errorf("summary does not list the skips:\n%s", sum)
	}
}

func TestLongRecordCutBetweenFields(t *testing.T) {
	long := strings.Repeat("安装前请确认墙面为承重墙，电源为独立线路并配有漏电保护开关。", 12)
	path := writeTemp(t, "products.json", `[{"商品ID": "P1", "商品名称": "电热水器", "商品价格": 1999,
		"安装说明": "`+long+`", "维修说明": "整机包修8年。", "常见故障": [{"故障代码": "F001", "故障名称": "加热缓慢"}]}]`)
	st := newMemStore()
	sum, err := New(st, &hashEmbedder{}, Options{MaxChunkTokens: 120}).Run(context.Background(), path)
	if err != nil || sum.Documents != 1 {
		t.Fatalf("%v\n%s", err, sum)
	}
	_, cs, _ := st.doc("products.json#P1")
	var headings []string
	for _, c := range cs {
		headings = append(headings, c.Heading)
		if c.Tokens > 120 {
			t.Errorf("chunk %d has %d tokens", c.Ordinal, c.Tokens)
		}
	}
	// Runs of short fields share a chunk headed by their names; the long
	// one is a section under its own name. Every chunk is titled with the
	// product's name, which no later chunk's text repeats.
	if headings[0] != "商品ID、商品名称、商品价格" || headings[1] != "安装说明" || headings[2] != "安装说明" || headings[len(headings)-1] != "维修说明、常见故障" {
		t.Errorf("headings = %q; chunks:\n%v", headings, cs)
	}
	for _, c := range cs[1:] {
		if c.Title != "电热水器" || strings.Contains(c.Text, "电热水器") {
			t.Errorf("chunk %d: title %q, text %q", c.Ordinal, c.Title, c.Text)
		}
	}
	if !strings.Contains(cs[len(cs)-1].Text, "维修说明: 整机包修8年。") {
		t.Errorf("last chunk = %q", cs[len(cs)-1].Text)
	}
}

func TestStatuteChunksPerArticle(t *testing.T) {
	st := newMemStore()
	sum, err := New(st, &hashEmbedder{}, Options{MaxChunkTokens: 100}).Run(context.Background(), nested+"statute.md")
	if err != nil || sum.Documents != 1 {
		t.Fatalf("%v\n%s", err, sum)
	}
	_, cs, _ := st.doc(nested + "statute.md")
	var got []string
	for _, c := range cs {
		got = append(got, c.Heading)
		body := c.Text
		if strings.HasPrefix(body, "#") {
			_, body, _ = strings.Cut(body, "\n\n")
		}
		if strings.Contains(body, "INFO END") {
			t.Errorf("an HTML comment reached chunk %d", c.Ordinal)
		}
		if r, _ := utf8.DecodeLastRuneInString(body); !strings.ContainsRune("。；", r) {
			t.Errorf("chunk %d does not end a sentence or clause: %q", c.Ordinal, body)
		}
	}
	// The title's section holds only a comment: no chunk.
	want := []string{
		"网络购物条例 > 第一章 总则 > 第一条",
		"网络购物条例 > 第一章 总则 > 第二条",
		"网络购物条例 > 第二章 退货 > 第三条",
		"网络购物条例 > 第二章 退货 > 第三条",
		"网络购物条例 > 第二章 退货 > 第三条",
		"网络购物条例 > 第二章 退货 > 第四条",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("headings = %q", got)
	}
	for _, c := range cs[2:5] {
		if !strings.HasPrefix(c.Text, "## 第二章 退货\n\n第三条") {
			t.Errorf("a chunk of article 3 does not name it: %q", c.Text)
		}
	}
	if !strings.Contains(cs[1].Text, "第二条 消费者通过网络购买商品，享有本条例规定的权利。\n\n经营者应当遵守本条例。") {
		t.Errorf("article 2 is not whole: %q", cs[1].Text)
	}
}

func TestPersonalKey(t *testing.T) {
	tests := []struct {
		key, val string
		want     bool
	}{
		{"phone", "+86 155 0000 1111", true},
		{"phone", "iPhone 12 and later", false},
		{"phone_output", "15 W", false},
		{"Manage Change Phone", "see the guide", false},
		{"contact_phone_number", "020-12345678", true},
		{"email", "ana@example.com", true},
		{"email", "yes", false},
		{"support_email", "help@lumi.example", false},
		{"客服电话", "400-800-1234", false},
		{"shipping_address", "215 River Road", true},
		{"address", "215 River Road", false}, // a shop's address is public
		{"recipient", "Ana Li", true},
		{"收件人姓名", "李安", true},
		{"电话号码", "15500001111", true},
		{"适用手机", "华为", false},
		{"身份证号", "110101199003070000", true},
	}
	for _, tt := range tests {
		if got := personalValue(personalKey(tt.key), tt.val); got != tt.want {
			t.Errorf("%q: %q is personal = %v, want %v", tt.key, tt.val, got, tt.want)
		}
	}
}

func TestPersonalName(t *testing.T) {
	for _, n := range []string{"users", "users_info", "customers.csv", "userProfiles", "Members", "用户信息", "客户"} {
		if !personalName(n) {
			t.Errorf("%q is not taken for personal data", n)
		}
	}
	for _, n := range []string{"orders", "products", "username-rules", "faq", "discount", "服务"} {
		if personalName(n) {
			t.Errorf("%q is taken for personal data", n)
		}
	}
}
