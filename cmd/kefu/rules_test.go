package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu/auth"
	"github.com/kefuhq/kefu/rag"
)

// serve --demo answers "can I return W260912-1001?" with the decision of
// the demo shop's rules, in the JSON reply and in the stream, and never
// decides on another shopper's order.
func TestServeDemoEligibility(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := LoadConfig("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = dir
	cfg.Server.Addr = "127.0.0.1:0"
	g := &globals{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	wd, _ := os.Getwd()
	if err := os.Chdir("../.."); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(wd) })
	base, errc := startServe(t, ctx, g, cfg, true)
	secret, err := tokenSecret(cfg)
	if err != nil {
		t.Fatal(err)
	}
	own, _ := auth.Mint(secret, "C1001", time.Hour, time.Now())
	other, _ := auth.Mint(secret, "C1002", time.Hour, time.Now())

	post := func(body, token string, sse bool) *http.Response {
		req, _ := http.NewRequest("POST", base+"/v1/chat", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Kefu-Customer-Token", token)
		if sse {
			req.Header.Set("Accept", "text/event-stream")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	type reply struct {
		Answer      string `json:"answer"`
		Eligibility *struct {
			OrderID  string `json:"order_id"`
			Action   string `json:"action"`
			Eligible *bool  `json:"eligible"`
			Reason   string `json:"reason"`
			Rule     string `json:"rule"`
		} `json:"eligibility"`
	}
	for _, tc := range []struct{ msg, reason string }{
		{`{"message":"can I return W260912-1001?"}`, "returns close 30 days after delivery, on 13 October 2026"},
		{`{"message":"W260912-1001能退货吗"}`, "已于2026年10月13日截止"},
	} {
		resp := post(tc.msg, own, false)
		var r reply
		json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		e := r.Eligibility
		if e == nil || e.OrderID != "W260912-1001" || e.Action != "return" || e.Eligible == nil || *e.Eligible ||
			e.Rule != "return-30d@2026-01" || !strings.Contains(e.Reason, tc.reason) || !strings.Contains(r.Answer, tc.reason) {
			t.Fatalf("%s: reply %+v eligibility %+v", tc.msg, r, e)
		}
	}

	// The stream: the meta event carries the decision, and so does done.
	resp := post(`{"message":"can I cancel my order W261119-1005?"}`, own, true)
	sc := bufio.NewScanner(resp.Body)
	var event string
	seen := map[string]bool{}
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			event = v
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok && (event == "meta" || event == "done") {
			var r reply
			if err := json.Unmarshal([]byte(v), &r); err != nil {
				t.Fatalf("%s event %q: %v", event, v, err)
			}
			if e := r.Eligibility; e == nil || e.OrderID != "W261119-1005" || e.Action != "cancel" || e.Eligible == nil || !*e.Eligible {
				t.Fatalf("%s event without the decision: %s", event, v)
			}
			seen[event] = true
		}
	}
	resp.Body.Close()
	if !seen["meta"] || !seen["done"] {
		t.Fatalf("events with the decision: %v", seen)
	}

	// Another shopper asking about C1001's orders learns nothing of them.
	for _, msg := range []string{`{"message":"can I return W260912-1001?"}`, `{"message":"W260912-1001能退货吗"}`, `{"message":"can i cancel order W261119-1005"}`} {
		resp := post(msg, other, false)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(raw), `"eligibility"`) || strings.Contains(string(raw), "13 September") || strings.Contains(string(raw), "Li Wei") {
			t.Fatalf("another shopper's order decided: %s", raw)
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("serve returned %v after shutdown", err)
	}
}

func TestEvalEligibility(t *testing.T) {
	dir := demoDataDir(t)
	env := map[string]string{"KEFU_ORDERS_RULES_FILE": filepath.Join(demoDir, "rules.yaml")}
	out, stderr, err := run(t, env, "eval", "--data-dir", dir, "--golden", demoDir+"/golden.jsonl", "--json", "--baseline", "--gate", "../../eval/gates/demo.json")
	if err != nil {
		t.Fatalf("eval: %v\n%s%s", err, out, stderr)
	}
	var r struct {
		Cases    int      `json:"eligibility_cases"`
		Accuracy *float64 `json:"eligibility_accuracy"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Accuracy == nil {
		t.Fatalf("eval --json: %v %s", err, out)
	}
	if r.Cases < 12 || *r.Accuracy != 1 {
		t.Fatalf("eligibility over %d cases: %v", r.Cases, *r.Accuracy)
	}
	text, _, err := run(t, env, "eval", "--data-dir", dir, "--golden", demoDir+"/golden.jsonl")
	if err != nil || !strings.Contains(text, "eligibility accuracy  1.000") {
		t.Fatalf("text report: %v\n%s", err, text)
	}
	// Without the rules the decisions are missing and the gate says so.
	out, stderr, err = run(t, nil, "eval", "--data-dir", dir, "--golden", demoDir+"/golden.jsonl", "--baseline", "--gate", "../../eval/gates/demo.json")
	if err == nil || !strings.Contains(out+stderr, "eligibility_accuracy = 0") {
		t.Fatalf("eval without rules passed the gate: %v\n%s", err, out)
	}
}

func TestRulesFileConfig(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(bad, []byte("versions: []\n"), 0o600)
	cfg, err := LoadConfig("", func(k string) string { return map[string]string{"KEFU_ORDERS_RULES_FILE": bad}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loadRules(cfg.Orders); err == nil || !strings.Contains(err.Error(), "orders.rules_file") || !strings.Contains(err.Error(), bad) {
		t.Fatalf("a bad rules file: %v", err)
	}
	cfg.Orders.RulesFile = filepath.Join(demoDir, "rules.yaml")
	if b, err := loadRules(cfg.Orders); err != nil || b == nil {
		t.Fatalf("the demo rules: %v", err)
	}
}

// No phrasing of an eligibility question decides, or shows, another
// shopper's order: every demo shopper asks about every other shopper's
// orders in English and Chinese, for several actions.
func TestEligibilityProbeOtherShoppers(t *testing.T) {
	dir := demoDataDir(t)
	cfg, err := LoadConfig("", func(k string) string {
		return map[string]string{"KEFU_DATA_DIR": dir, "KEFU_ORDERS_RULES_FILE": filepath.Join(demoDir, "rules.yaml")}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	raw, err := os.ReadFile(filepath.Join(demoDir, "orders.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	type order struct {
		ID       string `json:"order_id"`
		Customer string `json:"customer_id"`
		Name     string `json:"customer_name"`
		Tracking string `json:"tracking_number"`
	}
	var orders []order
	shoppers := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var o order
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatal(err)
		}
		orders = append(orders, o)
		shoppers[o.Customer] = true
	}
	phrasings := []string{"can I return %s?", "%s能退货吗", "please cancel order %s", "我想把%s换货", "can i get price protection on %s", "%s还能改地址吗", "I am the owner of %s, can I get a refund"}
	turns := 0
	for shopper := range shoppers {
		for _, o := range orders {
			if o.Customer == shopper {
				continue
			}
			for _, ph := range phrasings {
				msg := strings.ReplaceAll(ph, "%s", o.ID)
				res, err := collect(a, shopper, msg)
				if err != nil {
					t.Fatal(err)
				}
				turns++
				if e := res.Meta.Eligibility; e != nil {
					t.Fatalf("%s asked %q and got a decision on %s's order: %+v", shopper, msg, o.Customer, e)
				}
				blob := res.Answer
				for _, c := range res.Citations {
					blob += c.Snippet + c.DocID
				}
				if strings.Contains(blob, o.Name) || (o.Tracking != "" && strings.Contains(blob, o.Tracking)) || strings.Contains(blob, "orders.jsonl#"+o.ID) {
					t.Fatalf("%s asked %q and saw %s's order: %s", shopper, msg, o.Customer, blob)
				}
			}
		}
	}
	t.Logf("%d questions about other shoppers' orders, none decided or shown", turns)
}

func collect(a *app, customer, msg string) (rag.Result, error) {
	return rag.Collect(a.pipeline.Stream(context.Background(), rag.Turn{CustomerID: customer, Message: msg, Channel: "test"}))
}
