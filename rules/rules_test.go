package rules_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/rules"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

const dated = `
shop: test
conditions:
  seal: {en: "The seal must be intact.", zh: "封条须完好。"}
versions:
  - version: "v2"
    effective_from: 2026-06-01
    rules:
      - id: ret
        action: return
        statuses: [delivered]
        window: {days: 30, from: delivered}
  - version: "v1"
    effective_from: 2026-01-01
    rules:
      - id: ret
        action: return
        statuses: [delivered]
        window: {days: 15, from: delivered}
        conditions: [seal]
        limit: once
        exclude_categories: [gift cards]
`

func TestEffectiveDates(t *testing.T) {
	b, err := rules.Parse("dated.yaml", []byte(dated))
	if err != nil {
		t.Fatal(err)
	}
	now := day("2026-07-10")
	for _, tc := range []struct {
		name, placed, delivered string
		rule                    string
		eligible                bool
	}{
		// Delivered 20 June: 20 days ago. The 30-day version allows it; an
		// order placed under the 15-day version does not.
		{"placed under v2", "2026-06-15", "2026-06-20", "ret@v2", true},
		{"placed under v1", "2026-05-30", "2026-06-20", "ret@v1", false},
		{"placed on v2's first day", "2026-06-01", "2026-06-20", "ret@v2", true},
		{"placed before every version", "2025-12-01", "2026-06-20", "ret@v1", false},
		{"placed date unknown: the version in force now", "", "2026-06-20", "ret@v2", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := rules.Facts{OrderID: "W1", Status: "delivered", Delivered: day(tc.delivered)}
			if tc.placed != "" {
				f.Placed = day(tc.placed)
			}
			d := b.Check(f, rules.Return, now)
			if d.Rule != tc.rule || d.Eligible != tc.eligible {
				t.Fatalf("rule %s eligible %v, want %s %v: %s", d.Rule, d.Eligible, tc.rule, tc.eligible, d.Text("en"))
			}
		})
	}
}

func TestChecks(t *testing.T) {
	b, err := rules.Parse("dated.yaml", []byte(dated))
	if err != nil {
		t.Fatal(err)
	}
	placed := day("2026-02-01")
	base := rules.Facts{OrderID: "W9", Status: "delivered", Placed: placed, Delivered: day("2026-02-03")}
	for _, tc := range []struct {
		name     string
		edit     func(*rules.Facts)
		now      string
		code     string
		deadline string
	}{
		{"inside the window", func(*rules.Facts) {}, "2026-02-10", rules.CodeAllowed, "2026-02-18"},
		{"the last day counts", func(*rules.Facts) {}, "2026-02-18", rules.CodeAllowed, "2026-02-18"},
		{"the day after", func(*rules.Facts) {}, "2026-02-19", rules.CodeWindowClosed, "2026-02-18"},
		{"status", func(f *rules.Facts) { f.Status = "Shipped" }, "2026-02-10", rules.CodeStatus, ""},
		{"status matched ignoring case and _", func(f *rules.Facts) { f.Status = "DELIVERED" }, "2026-02-10", rules.CodeAllowed, "2026-02-18"},
		{"once per order", func(f *rules.Facts) { f.Done = []rules.Action{rules.Return} }, "2026-02-10", rules.CodeLimit, ""},
		{"another action done", func(f *rules.Facts) { f.Done = []rules.Action{rules.Exchange} }, "2026-02-10", rules.CodeAllowed, "2026-02-18"},
		{"excluded category", func(f *rules.Facts) { f.Items = []rules.Item{{Name: "Card", Category: "Gift_Cards"}} }, "2026-02-10", rules.CodeCategory, ""},
		{"no delivery date", func(f *rules.Facts) { f.Delivered = time.Time{} }, "2026-02-10", rules.CodeMissingDate, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := base
			tc.edit(&f)
			d := b.Check(f, rules.Return, day(tc.now).Add(15*time.Hour))
			if d.Code != tc.code || d.Eligible != (tc.code == rules.CodeAllowed) {
				t.Fatalf("code %s eligible %v, want %s: %s", d.Code, d.Eligible, tc.code, d.Text("en"))
			}
			if got := dateOf(d.Deadline); got != tc.deadline {
				t.Fatalf("deadline %q, want %q", got, tc.deadline)
			}
			if d.Eligible && (len(d.Conditions) != 1 || d.Conditions[0].ID != "seal") {
				t.Fatalf("conditions %+v, want the seal", d.Conditions)
			}
		})
	}
	if d := b.Check(base, rules.Cancel, day("2026-02-10")); d.Eligible || d.Code != rules.CodeNoRule || d.Rule != "" {
		t.Fatalf("an action without a rule: %+v", d)
	}
}

func dateOf(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

func demoBook(t *testing.T) *rules.Book {
	t.Helper()
	return load(t, filepath.Join("..", "examples", "demo-shop", "rules.yaml"))
}

func demoOrders(t *testing.T) map[string]map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "examples", "demo-shop", "orders.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]any{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		out[rec["order_id"].(string)] = rec
	}
	return out
}

// TestExplanations holds the sentences a shopper reads, in both languages,
// for the demo shop's orders on the day of its snapshot.
func TestExplanations(t *testing.T) {
	b := demoBook(t)
	orders := demoOrders(t)
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		order    string
		action   rules.Action
		eligible bool
		en, zh   string
	}{
		{"W260912-1001", rules.Return, false,
			"Order W260912-1001 was delivered on 13 September 2026; returns close 30 days after delivery, on 13 October 2026, so it can no longer be returned. It is still under warranty until 13 September 2028.",
			"订单W260912-1001于2026年9月13日签收；退货期限为签收后30天，已于2026年10月13日截止，因此已不能退货。该订单仍在保修期内，保修至2028年9月13日。"},
		{"W261104-1008", rules.Return, true,
			"Order W261104-1008 was delivered on 5 November 2026; returns are open for 30 days after delivery, until 5 December 2026, so it can be returned.",
			"订单W261104-1008于2026年11月5日签收；签收后30天内可以退货，截止2026年12月5日，因此可以退货。"},
		{"W261118-1004", rules.Cancel, false,
			"Order W261118-1004 is shipped; an order can be cancelled only when it is awaiting payment or being prepared, so it cannot be cancelled now.",
			"订单W261118-1004当前状态为已发货；只有待付款、处理中状态的订单可以取消，因此目前不能取消。"},
		{"W261119-1005", rules.Cancel, true,
			"Order W261119-1005 is being prepared, and an order that is awaiting payment or being prepared can be cancelled. The full amount goes back to the original payment method.",
			"订单W261119-1005当前状态为处理中，待付款、处理中状态的订单可以取消。全部款项原路退回。"},
		{"W261111-1012", rules.Return, true,
			"Personal-care and in-ear items can be returned only with the hygiene seal unbroken, unless they are faulty.",
			"个人护理类和入耳式商品，卫生封条未拆封才可退货（商品故障除外）。"},
		{"W260903-1021", rules.Exchange, false,
			"Order W260903-1021 was delivered on 5 September 2026; exchanges close 30 days after delivery, on 5 October 2026, so it can no longer be exchanged. It is still under warranty until 5 September 2028.",
			"订单W260903-1021于2026年9月5日签收；换货期限为签收后30天，已于2026年10月5日截止，因此已不能换货。该订单仍在保修期内，保修至2028年9月5日。"},
		{"W261118-1020", rules.PriceProtection, false,
			"Order W261118-1020 was placed on 18 November 2026; price protection is open for 7 days after the order was placed, until 25 November 2026, so it can get price protection.",
			"订单W261118-1020于2026年11月18日下单；下单后7天内可以申请价保，截止2026年11月25日，因此可以申请价保。"},
		{"W261104-1008", rules.Warranty, true,
			"the warranty runs 12 months from delivery, until 5 November 2027.",
			"保修期为签收后12个月，至2027年11月5日。"},
	} {
		t.Run(string(tc.action)+" "+tc.order, func(t *testing.T) {
			f, err := b.Facts(orders[tc.order])
			if err != nil {
				t.Fatal(err)
			}
			d := b.Check(f, tc.action, now)
			if tc.action == rules.PriceProtection {
				tc.eligible = true // placed 18 November, asked on the 20th
			}
			if d.Eligible != tc.eligible {
				t.Fatalf("eligible %v, want %v: %s", d.Eligible, tc.eligible, d.Text("en"))
			}
			if en := d.Text("en"); !strings.Contains(en, tc.en) {
				t.Errorf("en:\n got %s\nwant %s", en, tc.en)
			}
			if zh := d.Text("zh-CN"); !strings.Contains(zh, tc.zh) {
				t.Errorf("zh:\n got %s\nwant %s", zh, tc.zh)
			}
		})
	}
}

// TestFactsFromText reads an order as kefu stores it (ingest's rendering)
// to the same facts as its record.
func TestFactsFromText(t *testing.T) {
	b := demoBook(t)
	text := `Order id: W261111-1003
Customer id: C1001
Status: delivered
Placed at: 2026-11-11
Items:
- 1 x Lumi RoboClean S8 Robot Vacuum (LM-VC-001), 2499.00
- 1 x Lumi RoboClean S8 Replacement Kit (LM-VC-005), 129.00
Total: 2628.00
Payment method: Huabei
Delivered at: 2026-11-13
`
	f, err := b.FactsText(text)
	if err != nil {
		t.Fatal(err)
	}
	g, err := b.Facts(demoOrders(t)["W261111-1003"])
	if err != nil {
		t.Fatal(err)
	}
	if f.OrderID != g.OrderID || f.Status != g.Status || !f.Placed.Equal(g.Placed) || !f.Delivered.Equal(g.Delivered) || f.Payment != g.Payment {
		t.Fatalf("from text %+v\nfrom record %+v", f, g)
	}
	if len(f.Items) != 2 || f.Items[0].ID != "LM-VC-001" || f.Items[0].Category != "Cleaning appliances" || f.Items[1].Category != "Consumables" {
		t.Fatalf("items from text %+v", f.Items)
	}
	for i := range f.Items {
		if f.Items[i].ID != g.Items[i].ID || f.Items[i].Category != g.Items[i].Category {
			t.Fatalf("item %d: text %+v, record %+v", i, f.Items[i], g.Items[i])
		}
	}
}

func TestFactsFromRecordErrors(t *testing.T) {
	b := demoBook(t)
	if _, err := b.Facts(map[string]any{"order_id": "W1"}); kefu.ErrorCode(err) != kefu.EInvalid || !strings.Contains(err.Error(), "no status") {
		t.Fatalf("record without a status: %v", err)
	}
	_, err := b.Facts(map[string]any{"order_id": "W1", "status": "delivered", "delivered_at": "last tuesday"})
	if kefu.ErrorCode(err) != kefu.EInvalid || !strings.Contains(err.Error(), "delivered_at") {
		t.Fatalf("a date that is not one: %v", err)
	}
	f, err := b.Facts(map[string]any{"order_id": "W1", "status": "delivered", "delivered_at": "2026-11-13T23:30:00Z",
		"actions_done": []any{"exchange", "bogus"}})
	if err != nil {
		t.Fatal(err)
	}
	// 23:30 UTC is the next morning in Shanghai, the shop's time zone.
	if f.Delivered.Format(time.DateOnly) != "2026-11-14" || len(f.Done) != 1 || f.Done[0] != rules.Exchange {
		t.Fatalf("facts %+v", f)
	}
}

func TestParseDate(t *testing.T) {
	for in, want := range map[string]string{
		"2026-09-13": "2026-09-13", "2026/9/3": "2026-09-03", "2026年9月13日": "2026-09-13",
		"2026-09-13 10:04:00": "2026-09-13", "2026-09-13T10:04:00+08:00": "2026-09-13",
	} {
		got, err := rules.ParseDate(in, time.UTC)
		if err != nil || got.Format(time.DateOnly) != want {
			t.Errorf("%q: %v %v, want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "2026-02-30", "13/09/2026", "2026-13-01", strings.Repeat("2", 100)} {
		if _, err := rules.ParseDate(bad, time.UTC); err == nil {
			t.Errorf("%q read as a date", bad)
		}
	}
}

func TestParseErrors(t *testing.T) {
	ok := "versions:\n  - version: v1\n    effective_from: 2026-01-01\n    rules:\n      - action: return\n        statuses: [delivered]\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"empty", "", "is empty"},
		{"not yaml", "versions: [", "bad.yaml"},
		{"unknown field", strings.Replace(ok, "statuses:", "statusez:", 1), "line 6"},
		{"unknown top field", "shops: x\n" + ok, "shops"},
		{"no versions", "shop: x\n", "versions: at least one version"},
		{"bad action", strings.Replace(ok, "return", "teleport", 1), "line 5: versions[0].rules[0].action"},
		{"no statuses", strings.Replace(ok, "        statuses: [delivered]\n", "", 1), "versions[0].rules[0].statuses"},
		{"bad date", strings.Replace(ok, "2026-01-01", "Jan 1", 1), "line 3: versions[0].effective_from"},
		{"negative window", ok + "        window: {days: -3}\n", "versions[0].rules[0].window"},
		{"days and months", ok + "        window: {days: 3, months: 1}\n", "not both"},
		{"unknown date", ok + "        window: {days: 3, from: birthday}\n", "birthday"},
		{"undefined condition", ok + "        conditions: [sealed]\n", "sealed"},
		{"bad limit", ok + "        limit: twice\n", "twice"},
		{"duplicate action", ok + "      - action: return\n        statuses: [x]\n", "a second rule"},
		{"bad time zone", "timezone: Mars/Olympus\n" + ok, "timezone"},
		{"bad locale", "conditions:\n  c: {en: a, fr: b}\n" + ok, "fr"},
		{"wrong type", strings.Replace(ok, "[delivered]", "{a: b}", 1), "line 6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rules.Parse("bad.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("parsed")
			}
			if kefu.ErrorCode(err) != kefu.EInvalid || !strings.Contains(err.Error(), "bad.yaml") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want code invalid naming the file and %q", err, tc.want)
			}
		})
	}
	if _, err := rules.Parse("big.yaml", make([]byte, rules.MaxFileBytes+1)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversized file: %v", err)
	}
	if _, err := rules.Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("missing file: %v", err)
	}
}

// FuzzParse feeds the parser arbitrary files: it must return a book or an
// error, never panic, and a book it returns must check any action.
func FuzzParse(f *testing.F) {
	// Small seeds: the shops' files are large enough to slow each run.
	f.Add([]byte(`timezone: Asia/Shanghai
facts: {status: [state], dates: {placed: [ordered]}, categories: {"A-*": x, "A-1": y}}
statuses: {delivered: {en: delivered, zh: 已签收}}
conditions: {c: {en: a, zh: b}}
versions:
  - version: v1
    effective_from: 2026-01-01
    rules:
      - {action: warranty, statuses: [delivered], window: {months: 12}, category_windows: {x: {months: 24}, y: {days: 0}}}
      - {action: return, statuses: [delivered], note: warranty, category_conditions: {x: [c]}, limit: once,
         refund_to: [{payment: ["gift_*"], to: {en: g, zh: h}}, {to: {en: o, zh: p}}]}
`))
	f.Add([]byte(dated))
	f.Add([]byte("versions: [{version: a, effective_from: 2026-01-01, rules: [{action: return, statuses: ['*'], window: {months: 1}}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := rules.Parse("fuzz.yaml", data)
		if err != nil {
			if kefu.ErrorCode(err) != kefu.EInvalid {
				t.Fatalf("error without code invalid: %v", err)
			}
			return
		}
		facts := rules.Facts{OrderID: "W1", Status: "delivered", Placed: day("2026-01-02"), Delivered: day("2026-01-05"),
			Items: []rules.Item{{ID: "x", Category: "c"}}}
		for _, a := range rules.Actions {
			d := b.Check(facts, a, day("2026-02-01"))
			if d.Reason["en"] == "" || d.Reason["zh"] == "" {
				t.Fatalf("%s: no reason", a)
			}
		}
	})
}
