package ingest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
)

func TestDetectLocale(t *testing.T) {
	tests := []struct{ text, want string }{
		{"Opened items can be returned within 30 days.", "en"},
		{"签收后30天内可以退货。", "zh"},
		{"鹿米 AirBeat Pro 无线耳机支持主动降噪", "zh"},            // Han well over 30% of letters
		{"Lumi AirBeat Pro Wireless Earbuds 无线耳机", ""}, // mixed
		{"Retours gratuits sous trente jours", "en"},   // Latin script: the best guess kefu has
		{"Возврат в течение 30 дней", ""},
		{"반품은 30일 이내", ""},
		{"12345 ¥ --", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := detectLocale(tt.text); got != tt.want {
			t.Errorf("detectLocale(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestLocaleOfName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"returns.en.md", "en"},
		{"returns.zh.md", "zh"},
		{"returns.zh-CN.md", "zh"},
		{"faq.en-us.jsonl", "en"},
		{"returns.md", ""},
		{"en.md", ""},
		{"v1.2.md", ""},
		{"returns.fr.md", ""},
	}
	for _, tt := range tests {
		if got := localeOfName(tt.name); got != tt.want {
			t.Errorf("localeOfName(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestNormLocale(t *testing.T) {
	tests := []struct{ tag, want string }{
		{"en", "en"}, {"EN-us", "en"}, {"zh_CN", "zh"}, {"zh-Hans", "zh"}, {"cn", "zh"}, {"中文", "zh"}, {"fr", ""}, {"", ""},
	}
	for _, tt := range tests {
		if got := normLocale(tt.tag); got != tt.want {
			t.Errorf("normLocale(%q) = %q, want %q", tt.tag, got, tt.want)
		}
	}
}

func TestTypeOfName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"orders.jsonl", kefu.TypeOrder},
		{"order_history_2024.csv", kefu.TypeOrder},
		{"product-orders.json", kefu.TypeOrder},
		{"products.json", kefu.TypeProduct},
		{"catalogue.csv", kefu.TypeProduct},
		{"sku-list.csv", kefu.TypeProduct},
		{"faq.jsonl", kefu.TypeFAQ},
		{"help-faqs.md", kefu.TypeFAQ},
		{"订单.csv", kefu.TypeOrder},
		{"商品.json", kefu.TypeProduct},
		{"常见问题.md", kefu.TypeFAQ},
		{"border-crossing.md", ""},
		{"returns.en.md", ""},
	}
	for _, tt := range tests {
		if got := typeOfName(tt.name); got != tt.want {
			t.Errorf("typeOfName(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestTitleOfName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"returns-policy.en.md", "Returns policy"},
		{"dir/store_hours.txt", "Store hours"},
		{"保修.pdf", "保修"},
		{".md", ".md"},
	}
	for _, tt := range tests {
		if got := titleOfName(tt.name); got != tt.want {
			t.Errorf("titleOfName(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestHumanize(t *testing.T) {
	tests := []struct{ key, want string }{
		{"tracking_number", "Tracking number"},
		{"trackingNumber", "Tracking number"},
		{"orderID", "Order id"},
		{"HTTPStatus", "Http status"},
		{"SKU", "Sku"},
		{"name_zh", "Name (zh)"},
		{"descriptionEn", "Description (en)"},
		{"Order ID", "Order id"},
		{"address2", "Address2"},
		{"价格", "价格"},
		{"商品ID", "商品ID"},
		{" 订单_ID ", "订单_ID"},
		{"zh", "Zh"},
		{"__", "__"},
	}
	for _, tt := range tests {
		if got := humanize(tt.key); got != tt.want {
			t.Errorf("humanize(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

// mustObject decodes a JSON object for tests.
func mustObject(t *testing.T, s string) object {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := v.(object)
	if !ok {
		t.Fatalf("%s is not an object", s)
	}
	return o
}

func TestJoinObject(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"sku": "LM-HP-001", "name": "Lumi AirBeat Pro", "qty": 1, "price": 599.00}`, "1 x Lumi AirBeat Pro (LM-HP-001), 599.00"},
		{`{"name": "Gift wrap"}`, "Gift wrap"},
		{`{"product_name": "Cable", "quantity": 2, "unit_price": "39.00", "colour": "white"}`, "2 x Cable, 39.00, Colour: white"},
		{`{"time": "2024-03-15 10:00", "status": "shipped"}`, "Time: 2024-03-15 10:00, Status: shipped"},
		{`{"name": "Kettle", "options": {"colour": "red"}, "tags": ["a", "b"]}`, "Kettle, Options: (Colour: red), Tags: a; b"},
		{`{"name": "", "note": null}`, ""},
	}
	for _, tt := range tests {
		if got := joinObject(mustObject(t, tt.in)); got != tt.want {
			t.Errorf("joinObject(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRecordType(t *testing.T) {
	in := New(nil, nil, Options{})
	tests := []struct {
		name, file, hint, rec, want string
	}{
		{"customer field wins over the file name", "products.json", "", `{"sku": "A", "customer_id": "C1"}`, kefu.TypeOrder},
		{"file name", "faq.json", "", `{"text": "x"}`, kefu.TypeFAQ},
		{"wrapping key", "data.json", kefu.TypeProduct, `{"text": "x"}`, kefu.TypeProduct},
		{"question and answer", "data.json", "", `{"q": "x", "a": "y"}`, kefu.TypeFAQ},
		{"price", "data.json", "", `{"name": "x", "sale_price": 1}`, kefu.TypeProduct},
		{"sku", "data.json", "", `{"SKU": "x"}`, kefu.TypeProduct},
		{"nothing to go by", "data.json", "", `{"region": "north", "fee": 8}`, kefu.TypePolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := in.recordType(record{fields: mustObject(t, tt.rec), hint: tt.hint}, tt.file); got != tt.want {
				t.Errorf("type = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRecordCustomer(t *testing.T) {
	tests := []struct {
		field, rec, want string
		fails            bool
	}{
		{"", `{"customer_id": "C1"}`, "C1", false},
		{"", `{"customerId": 1001}`, "1001", false},
		{"", `{"user_id": "U9"}`, "U9", false},
		{"", `{"customer": {"id": "C7", "name": "Li"}}`, "C7", false},
		{"", `{"customer_id": ""}`, "", true},
		{"", `{"status": "paid"}`, "", true},
		{"buyer", `{"buyer": "B1", "customer_id": "C1"}`, "B1", false},
		{"buyer", `{"customer_id": "C1"}`, "", true},
	}
	for _, tt := range tests {
		in := New(nil, nil, Options{CustomerField: tt.field})
		got, reason := in.recordCustomer(mustObject(t, tt.rec))
		if got != tt.want || (reason != "") != tt.fails {
			t.Errorf("recordCustomer(%s) with field %q = %q, %q", tt.rec, tt.field, got, reason)
		}
	}
}

func TestDecodeText(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
		err  bool
	}{
		{"utf-8", []byte("退货 ok"), "退货 ok", false},
		{"utf-8 with BOM", []byte("\xef\xbb\xbfhi"), "hi", false},
		{"utf-16le with BOM", []byte{0xFF, 0xFE, 'h', 0, 'i', 0}, "hi", false},
		{"gb18030", []byte(gb18030("退货政策")), "退货政策", false},
		{"latin-1 is refused", []byte("caf\xe9 \xe0 la carte"), "", true},
	}
	for _, tt := range tests {
		got, err := decodeText(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("%s: decodeText = %q, %v", tt.name, got, err)
		}
	}
}
