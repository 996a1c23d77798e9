package rules_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/rules"
)

// sharedData is where the public shops live beside the repository; tests
// that read them skip when it is absent.
var sharedData = filepath.Join("..", "..", "shared", "data")

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("public shop data not found at %s", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func load(t *testing.T, path string) *rules.Book {
	t.Helper()
	b, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// agreement checks every order against every action: the book's decision
// against want, the policy's rule written out independently.
type agreement struct {
	orders, checks int
	perAction      map[rules.Action][2]int // eligible, refused
}

func checkAll(t *testing.T, book *rules.Book, recs []map[string]any, want func(status string, a rules.Action) bool) agreement {
	t.Helper()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ag := agreement{perAction: map[rules.Action][2]int{}}
	for _, rec := range recs {
		f, err := book.Facts(rec)
		if err != nil {
			t.Fatalf("facts: %v", err)
		}
		if f.OrderID == "" || f.Status == "" {
			t.Fatalf("record %v: order id %q, status %q not read", rec, f.OrderID, f.Status)
		}
		ag.orders++
		for _, a := range rules.Actions {
			d := book.Check(f, a, now)
			ag.checks++
			if w := want(f.Status, a); d.Eligible != w {
				t.Errorf("%s %s (status %q): eligible %v, the policy says %v: %s", f.OrderID, a, f.Status, d.Eligible, w, d.Text("en"))
			}
			if d.OrderID != f.OrderID || d.Action != a || d.Reason["en"] == "" || d.Reason["zh"] == "" {
				t.Errorf("%s %s: incomplete decision %+v", f.OrderID, a, d)
			}
			c := ag.perAction[a]
			if d.Eligible {
				c[0]++
			} else {
				c[1]++
			}
			ag.perAction[a] = c
		}
	}
	return ag
}

func TestTau2RetailOrders(t *testing.T) {
	var db struct {
		Orders map[string]map[string]any `json:"orders"`
	}
	readJSON(t, filepath.Join(sharedData, "tau2-retail", "db.json"), &db)
	book := load(t, filepath.Join("..", "examples", "rules", "tau2-retail.yaml"))
	recs := make([]map[string]any, 0, len(db.Orders))
	for _, id := range sortedIDs(db.Orders) {
		recs = append(recs, db.Orders[id])
	}
	if len(recs) != 1000 {
		t.Fatalf("%d orders, want tau2 retail's 1,000", len(recs))
	}
	// policy.md: cancel and modify only a 'pending' order; return and
	// exchange only a 'delivered' one; money comes back through a
	// cancellation or a return; there is no price protection.
	ag := checkAll(t, book, recs, func(status string, a rules.Action) bool {
		switch a {
		case rules.Cancel, rules.ModifyAddress, rules.ModifyItems:
			return status == "pending"
		case rules.Return, rules.Exchange:
			return status == "delivered"
		case rules.Refund:
			return status == "pending" || status == "delivered"
		}
		return false
	})
	t.Logf("tau2 retail: %d orders, %d decisions, all agree with policy.md; per action (eligible, refused): %v", ag.orders, ag.checks, ag.perAction)
	if ag.perAction[rules.Return][0] == 0 || ag.perAction[rules.Cancel][0] == 0 {
		t.Fatal("no eligible return or cancellation: the statuses were not read")
	}
}

func TestTau2RefundDestination(t *testing.T) {
	book := load(t, filepath.Join("..", "examples", "rules", "tau2-retail.yaml"))
	for _, tc := range []struct{ pay, want string }{
		{"gift_card_1725971", "immediately"},
		{"credit_card_4466831", "5 to 7 business days"},
		{"paypal_5364164", "5 to 7 business days"},
	} {
		rec := map[string]any{"order_id": "#W1", "status": "pending",
			"payment_history": []any{map[string]any{"transaction_type": "payment", "payment_method_id": tc.pay}}}
		f, err := book.Facts(rec)
		if err != nil {
			t.Fatal(err)
		}
		d := book.Check(f, rules.Cancel, time.Now())
		if !d.Eligible || !strings.Contains(d.RefundTo["en"], tc.want) {
			t.Errorf("%s: refund %q, want it to say %q", tc.pay, d.RefundTo["en"], tc.want)
		}
	}
}

// ecomOrders walks ECom-Bench's orders.json (platform > shop > user >
// order id) and returns every order record.
func ecomOrders(v any, out *[]map[string]any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	if _, ok := m["订单ID"]; ok {
		*out = append(*out, m)
		return
	}
	for _, k := range sortedIDs(m) {
		ecomOrders(m[k], out)
	}
}

func TestEComBenchOrders(t *testing.T) {
	var root any
	readJSON(t, filepath.Join(sharedData, "ecom-bench-zh", "orders.json"), &root)
	book := load(t, filepath.Join("..", "examples", "rules", "ecom-bench.yaml"))
	var recs []map[string]any
	ecomOrders(root, &recs)
	if len(recs) == 0 {
		t.Fatal("no orders found in orders.json")
	}
	before := map[string]bool{"待付款": true, "已付款": true, "处理中": true}
	// agent_policy_wiki.md: cancel, change the address and exchange only
	// in 待付款/已付款/处理中; return only when 已签收; price protection is
	// granted whenever asked; money comes back by a cancellation of a paid
	// order or a return.
	ag := checkAll(t, book, recs, func(status string, a rules.Action) bool {
		switch a {
		case rules.Cancel, rules.ModifyAddress, rules.Exchange:
			return before[status]
		case rules.Return:
			return status == "已签收"
		case rules.Refund:
			return status == "已付款" || status == "处理中" || status == "已签收"
		case rules.PriceProtection:
			return true
		}
		return false
	})
	t.Logf("ECom-Bench: %d orders, %d decisions, all agree with agent_policy_wiki.md; per action (eligible, refused): %v", ag.orders, ag.checks, ag.perAction)
}

func TestEComBenchECardRefund(t *testing.T) {
	book := load(t, filepath.Join("..", "examples", "rules", "ecom-bench.yaml"))
	f, err := book.Facts(map[string]any{"订单ID": "1", "订单状态": "已签收", "支付方式": "京东E卡"})
	if err != nil {
		t.Fatal(err)
	}
	if d := book.Check(f, rules.Return, time.Now()); !d.Eligible || !strings.Contains(d.RefundTo["zh"], "京东E卡") {
		t.Fatalf("return paid by E-card: %+v", d)
	}
	f.Payment = "微信"
	if d := book.Check(f, rules.Return, time.Now()); strings.Contains(d.RefundTo["zh"], "E卡") {
		t.Fatalf("return paid by WeChat refunded to the E-card: %+v", d)
	}
}

func sortedIDs[V any](m map[string]V) []string {
	ids := make([]string, 0, len(m))
	for k := range m {
		ids = append(ids, k)
	}
	sort.Strings(ids)
	return ids
}
