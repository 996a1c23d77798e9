package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/rules"
)

// tau2Dir is tau2-bench's retail domain beside the repository; tests that
// need it skip when it is absent.
var tau2Dir = filepath.Join("..", "..", "..", "shared", "data", "tau2-retail")

// tau2Task is the part of a tau2 task the replay reads.
type tau2Task struct {
	ID                 string `json:"id"`
	EvaluationCriteria struct {
		Actions []struct {
			Name      string         `json:"name"`
			Arguments map[string]any `json:"arguments"`
		} `json:"actions"`
	} `json:"evaluation_criteria"`
}

type tau2Order struct {
	OrderID string `json:"order_id"`
	UserID  string `json:"user_id"`
	Status  string `json:"status"`
	Items   []struct {
		Name   string  `json:"name"`
		ItemID string  `json:"item_id"`
		Price  float64 `json:"price"`
	} `json:"items"`
}

// tau2Kinds maps tau2's write tools to kefu's action kinds. Its
// modify_pending_order_items and modify_pending_order_payment have no
// kefu kind (an item or payment change is for an agent) and are left out.
var tau2Kinds = map[string]string{
	"cancel_pending_order":           rag.ActionCancel,
	"return_delivered_order_items":   rag.ActionReturn,
	"exchange_delivered_order_items": rag.ActionExchange,
	"modify_pending_order_address":   rag.ActionChangeAddress,
}

// tau2Allowed is tau2's policy.md on the order's status, written out here
// independently of the shop's rules: cancel and modify a pending order,
// return and exchange a delivered one.
func tau2Allowed(kind, status string) bool {
	switch kind {
	case rag.ActionCancel, rag.ActionChangeAddress:
		return status == "pending"
	case rag.ActionReturn, rag.ActionExchange:
		return status == "delivered"
	}
	return false
}

// tau2Script is one scripted conversation: a request naming the order,
// then "yes"; want is the kind expected to reach the order system, "" for
// a refusal.
type tau2Script struct {
	name, customer, order, kind, ask string
	want                             string
}

// tau2Scripts derives the scripts from tasks.json: every task whose
// expected actions hold exactly one write, of a kind kefu takes, gives an
// eligible script (that action on that order) and, when the same shopper
// has an order whose status the policy excludes for that kind, an
// ineligible one (the same request on that order, to be refused).
func tau2Scripts(t *testing.T, tasks []tau2Task, orders map[string]tau2Order) []tau2Script {
	t.Helper()
	byUser := map[string][]tau2Order{}
	for _, o := range orders {
		byUser[o.UserID] = append(byUser[o.UserID], o)
	}
	for _, list := range byUser {
		sort.Slice(list, func(i, j int) bool { return list[i].OrderID < list[j].OrderID })
	}
	var out []tau2Script
	for _, task := range tasks {
		var writes []string
		var args map[string]any
		for _, a := range task.EvaluationCriteria.Actions {
			if strings.HasPrefix(a.Name, "cancel_") || strings.HasPrefix(a.Name, "modify_") || strings.HasPrefix(a.Name, "return_") ||
				strings.HasPrefix(a.Name, "exchange_") {
				writes = append(writes, a.Name)
				args = a.Arguments
			}
		}
		if len(writes) != 1 || tau2Kinds[writes[0]] == "" {
			continue
		}
		kind := tau2Kinds[writes[0]]
		id, _ := args["order_id"].(string)
		o, ok := orders[id]
		if !ok {
			t.Errorf("task %s: order %s is not in db.json", task.ID, id)
			continue
		}
		out = append(out, tau2Script{name: task.ID + "/eligible", customer: o.UserID, order: bare(id), kind: kind,
			ask: tau2Ask(kind, bare(id), args), want: kind})
		for _, other := range byUser[o.UserID] {
			if !tau2Allowed(kind, other.Status) {
				out = append(out, tau2Script{name: task.ID + "/ineligible", customer: o.UserID, order: bare(other.OrderID), kind: kind,
					ask: tau2Ask(kind, bare(other.OrderID), args)})
				break
			}
		}
	}
	return out
}

func bare(id string) string { return strings.TrimPrefix(id, "#") }

// tau2Ask is the shopper's request as a scripted first message.
func tau2Ask(kind, order string, args map[string]any) string {
	switch kind {
	case rag.ActionCancel:
		return "Please cancel order " + order + ", I no longer need it."
	case rag.ActionReturn:
		return "I want to return order " + order + "."
	case rag.ActionExchange:
		return "I'd like to exchange the items of order " + order + " for another option."
	}
	addr := []string{}
	for _, k := range []string{"address1", "address2", "city", "state", "zip"} {
		if v, _ := args[k].(string); v != "" {
			addr = append(addr, v)
		}
	}
	return "Please change the shipping address of order " + order + " to " + strings.Join(addr, ", ")
}

// tau2Shop serves db.json's orders as the shop's order system, with
// their user as the customer, and records the actions posted.
type tau2Shop struct {
	orders map[string]tau2Order // by bare id
	mu     sync.Mutex
	posts  []map[string]any
}

func (s *tau2Shop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		s.mu.Lock()
		s.posts = append(s.posts, body)
		s.mu.Unlock()
		w.Write([]byte(`{"status": "done"}`))
		return
	}
	cust, id := r.URL.Query().Get("customer_id"), r.URL.Query().Get("order_id")
	render := func(o tau2Order) map[string]any {
		items := []any{}
		for _, it := range o.Items {
			items = append(items, map[string]any{"name": it.Name, "sku": it.ItemID, "qty": 1, "price": fmt.Sprintf("%.2f", it.Price)})
		}
		return map[string]any{"order_id": bare(o.OrderID), "customer_id": o.UserID, "status": o.Status, "items": items}
	}
	if id == "" {
		list := []any{}
		for _, o := range s.orders {
			if o.UserID == cust {
				list = append(list, render(o))
			}
		}
		json.NewEncoder(w).Encode(list)
		return
	}
	o, ok := s.orders[strings.ToUpper(strings.TrimPrefix(id, "#"))]
	if !ok || o.UserID != cust {
		http.NotFound(w, r)
		return
	}
	json.NewEncoder(w).Encode(render(o))
}

func (s *tau2Shop) taken() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.posts...)
}

// TestTau2SingleActionTasks replays tau2 retail's single-action tasks as
// scripted conversations against the offline default (no model), through
// the HTTP API and a fake order system serving db.json, and reports the
// share that end with the right action or the right refusal.
func TestTau2SingleActionTasks(t *testing.T) {
	rawTasks, err := os.ReadFile(filepath.Join(tau2Dir, "tasks.json"))
	if err != nil {
		t.Skipf("tau2 retail data not found beside the repository: %v", err)
	}
	rawDB, err := os.ReadFile(filepath.Join(tau2Dir, "db.json"))
	if err != nil {
		t.Skipf("tau2 retail db not found: %v", err)
	}
	rules := tau2Rules(t)
	var tasks []tau2Task
	if err := json.Unmarshal(rawTasks, &tasks); err != nil {
		t.Fatal(err)
	}
	var db struct {
		Orders map[string]tau2Order `json:"orders"`
	}
	if err := json.Unmarshal(rawDB, &db); err != nil {
		t.Fatal(err)
	}
	scripts := tau2Scripts(t, tasks, db.Orders)
	shop := &tau2Shop{orders: map[string]tau2Order{}}
	for id, o := range db.Orders {
		shop.orders[bare(id)] = o
	}
	srv := httptest.NewServer(shop)
	t.Cleanup(srv.Close)
	s := startActionServerWith(t, srv.URL, rules)
	right := 0
	var wrong []string
	for _, sc := range scripts {
		before := len(shop.taken())
		p := s.chat(t, sc.customer, "", sc.ask, "")
		y := s.chat(t, sc.customer, p.ConversationID, "yes", "")
		posts := shop.taken()[before:]
		ok := false
		if sc.want == "" {
			ok = len(posts) == 0 && (p.Action == nil || p.Action.State != "proposed")
		} else {
			ok = len(posts) == 1 && posts[0]["kind"] == sc.want && posts[0]["order_id"] == sc.order && posts[0]["customer_id"] == sc.customer &&
				y.Action != nil && y.Action.State == "done"
		}
		if ok {
			right++
		} else {
			wrong = append(wrong, fmt.Sprintf("%s (%s %s): %q -> %q / %q, %d posts", sc.name, sc.kind, sc.order, sc.ask, clipAnswer(p.Answer), clipAnswer(y.Answer), len(posts)))
		}
	}
	share := float64(right) / float64(max(len(scripts), 1))
	t.Logf("tau2 retail single-action scripts: %d of %d right (%.1f%%)", right, len(scripts), 100*share)
	for _, w := range wrong {
		t.Log("wrong: " + w)
	}
	if len(scripts) < 40 || share < 0.9 {
		t.Errorf("%d scripts, %.1f%% right; want at least 40 and 90%%", len(scripts), 100*share)
	}
	kinds := map[string]int{}
	for _, sc := range scripts {
		kinds[sc.kind+"/"+map[bool]string{true: "eligible", false: "ineligible"}[sc.want != ""]]++
	}
	keys := make([]string, 0, len(kinds))
	for k := range kinds {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.Logf("  %s: %d", k, kinds[k])
	}
}

func clipAnswer(s string) string {
	if r := []rune(s); len(r) > 160 {
		return string(r[:160]) + "…"
	}
	return s
}

// tau2Rules is the shop's rules file for tau2 retail
// (examples/rules/tau2-retail.yaml, written from policy.md), loaded as
// kefu serve loads orders.rules_file.
func tau2Rules(t *testing.T) rag.EligibilityChecker {
	t.Helper()
	book, err := rules.Load(filepath.Join("..", "..", "examples", "rules", "tau2-retail.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return rulesChecker{book: book}
}
