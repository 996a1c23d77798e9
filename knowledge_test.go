package kefu

import "testing"

func TestDay(t *testing.T) {
	for in, want := range map[string]string{
		"2026-03-01": "2026-03-01", "2026/3/1": "2026-03-01", "2026-03-01T08:00:00Z": "2026-03-01",
		"2026-03-01 00:00:00 +0000 UTC": "2026-03-01", " 2026.12.31 ": "2026-12-31",
		"2026-02-30": "", "March 1": "", "": "", "20260301": "", "2026-03-01x": "",
	} {
		if got := Day(in); got != want {
			t.Errorf("Day(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFilterAllows(t *testing.T) {
	old := &Chunk{Type: TypePolicy, Meta: map[string]string{MetaEffectiveFrom: "2025-01-01", MetaEffectiveTo: "2026-02-28"}}
	cur := &Chunk{Type: TypePolicy, Meta: map[string]string{MetaEffectiveFrom: "2026-03-01"}}
	undated := &Chunk{Type: TypePolicy}
	mine := &Chunk{Type: TypeOrder, CustomerID: "C1"}
	record := &Chunk{DocID: "catalogue.csv#P1", Type: TypeProduct, Meta: map[string]string{MetaProductID: "P1"}}
	page := &Chunk{DocID: "products/kettle.md", Type: TypeProduct}
	faq := &Chunk{DocID: "faq.jsonl#7", Type: TypeFAQ, Meta: map[string]string{MetaProductID: "P1"}}
	myOrderOfP1 := &Chunk{DocID: "orders.jsonl#W1", Type: TypeOrder, CustomerID: "C1", Meta: map[string]string{MetaProductID: "P1"}}
	for _, tc := range []struct {
		name string
		f    Filter
		c    *Chunk
		want bool
	}{
		{"no date rule keeps every version", Filter{}, old, true},
		{"old version before its end", Filter{At: "2026-02-28"}, old, true},
		{"old version after its end", Filter{At: "2026-03-01"}, old, false},
		{"new version before its start", Filter{At: "2026-02-28"}, cur, false},
		{"new version from its start", Filter{At: "2026-03-01"}, cur, true},
		{"undated chunk is always in force", Filter{At: "1999-01-01"}, undated, true},
		{"anonymous never sees an order", Filter{}, mine, false},
		{"another shopper never sees it", Filter{CustomerID: "C2"}, mine, false},
		{"its owner does", Filter{CustomerID: "C1"}, mine, true},
		{"OnlyCustomer drops public chunks", Filter{CustomerID: "C1", OnlyCustomer: true}, undated, false},
		{"type filter", Filter{Types: []string{TypeFAQ}}, undated, false},
		{"product by its ingest product id", Filter{ProductID: "P1"}, record, true},
		{"product by its full document id", Filter{ProductID: "catalogue.csv#P1"}, record, true},
		{"another product's record", Filter{ProductID: "P2"}, record, false},
		{"a product page by its document id", Filter{ProductID: "products/kettle.md"}, page, true},
		{"a product page of another product", Filter{ProductID: "P1"}, page, false},
		{"any type tagged with the product", Filter{ProductID: "P1"}, faq, true},
		{"a chunk without a product", Filter{ProductID: "P1"}, undated, false},
		{"no product rule keeps every product", Filter{}, record, true},
		{"product and type rules both apply", Filter{ProductID: "P1", Types: []string{TypeProduct}}, faq, false},
		{"product never widens the customer rule", Filter{ProductID: "P1", CustomerID: "C2"}, myOrderOfP1, false},
		{"product with the owner", Filter{ProductID: "P1", CustomerID: "C1"}, myOrderOfP1, true},
	} {
		if got := tc.f.Allows(tc.c); got != tc.want {
			t.Errorf("%s: Allows = %v", tc.name, got)
		}
	}
}

func TestCheckProductID(t *testing.T) {
	for _, ok := range []string{"", "LM-HP-001", "B00X4WHP5E", "catalogue.csv#P1001", "examples/demo-shop/products.json#LM-HP-001", "商品-42", "sku:a+b=c~d@e_f"} {
		if err := CheckProductID(ok); err != nil {
			t.Errorf("CheckProductID(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"a b", "P1\n", "P1\"", "<script>", "P1;DROP", string(make([]byte, MaxProductIDLen+1)), "\xff\xfe", "p\x00"} {
		err := CheckProductID(bad)
		if ErrorCode(err) != EInvalid {
			t.Errorf("CheckProductID(%q) = %v, want an invalid error", bad, err)
		}
	}
	long := make([]byte, MaxProductIDLen)
	for i := range long {
		long[i] = 'a'
	}
	if err := CheckProductID(string(long)); err != nil {
		t.Errorf("an id of exactly %d bytes: %v", MaxProductIDLen, err)
	}
	if err := CheckProductID(string(long) + "a"); ErrorCode(err) != EInvalid {
		t.Errorf("an id of %d bytes: %v", MaxProductIDLen+1, err)
	}
}
