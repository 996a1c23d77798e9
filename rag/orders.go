package rag

import (
	"context"
	"regexp"
	"sort"
	"strings"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/tokenize"
)

// maxOrdersShown caps how many orders one answer lists; maxOrdersListed
// how many of a shopper's orders are considered at all.
const (
	maxOrdersShown  = 3
	maxOrdersListed = 200
)

// genericOrderTerms are the words every order question shares; what is left
// ("air fryer", "kettle") picks the orders the shopper means.
var genericOrderTerms = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range tokenize.Terms(`order orders where wheres track tracking status package parcel delivery deliver shipped ship arrive arrived
		when will has did yet latest recent last number id info update check show list see all
		我的订单 订单 快递 包裹 物流 到哪 哪里 单号 状态 发货 到了 什么时候 啥时候 几时 查询 查一下 帮我 看看 最近 买的 东西 一下`) {
		m[t] = true
	}
	return m
}()

// orders answers a signed-in shopper's question about their own orders. The
// search is restricted to that shopper's order documents inside the store;
// an order number the shopper names that is not theirs is "not found",
// exactly like one that does not exist.
//
// The orders are cited from offset+1 on: passages the answer quotes before
// them take the first numbers.
func (p *Pipeline) orders(ctx context.Context, t Turn, u Understanding, meta *Meta, offset int) (*plan, error) {
	// All of the shopper's orders (live, or the ingested copies); which
	// ones the question means is decided below, on the shopper's words.
	book := bookFrom(ctx, p, t.CustomerID, u.OrderRefs)
	hits, err := book.load(ctx)
	if err != nil {
		return nil, err
	}
	meta.Retrieved = hits
	if len(hits) == 0 && book.unavailable() {
		return p.fixed(DecideAnswer, u.Locale, "orders_unavailable", replyData{})
	}
	if len(hits) == 0 {
		if len(u.OrderRefs) > 0 {
			return p.fixed(DecideAnswer, u.Locale, "order_not_found", replyData{OrderID: u.OrderRefs[0]})
		}
		return p.fixed(DecideAnswer, u.Locale, "no_orders", replyData{})
	}

	var chosen []kefu.Hit
	if len(u.OrderRefs) > 0 {
		if chosen = matchRefs(hits, u.OrderRefs); len(chosen) == 0 {
			if book.unavailable() {
				return p.fixed(DecideAnswer, u.Locale, "orders_unavailable", replyData{})
			}
			return p.fixed(DecideAnswer, u.Locale, "order_not_found", replyData{OrderID: u.OrderRefs[0]})
		}
	} else {
		chosen = matchOrders(hits, u.Query)
	}
	meta.Retrieved = append(append([]kefu.Hit(nil), chosen...), without(hits, chosen)...)
	if len(chosen) > maxOrdersShown {
		chosen = chosen[:maxOrdersShown]
	}

	intro, err := p.reply(u.Locale, "orders_intro", replyData{Count: len(chosen)})
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	if book.stale {
		note, err := p.reply(u.Locale, "orders_stale", replyData{AsOf: book.asOf})
		if err != nil {
			return nil, err
		}
		b.WriteString(note + "\n")
	}
	b.WriteString(intro)
	for i, h := range chosen {
		b.WriteString("\n")
		b.WriteString(orderSummary(h.Chunk.Text, u.Locale))
		b.WriteString(" [")
		b.WriteString(itoa(offset + i + 1))
		b.WriteString("]")
	}
	return &plan{decision: DecideAnswer, text: b.String(), context: chosen}, nil
}

// orderDate returns the day the shopper's order ref was placed, or "" when
// the shopper has no such order. The lookup goes through the turn's order
// book (live first, the store's owner filter otherwise).
func (p *Pipeline) orderDate(ctx context.Context, customer, ref string) (string, error) {
	h, found, err := bookFrom(ctx, p, customer, []string{ref}).find(ctx, ref)
	if err != nil || !found {
		return "", err
	}
	if d := recordValue(h.Chunk.Text, map[string]bool{"placed at": true, "order date": true, "下单日期": true}); datePattern.MatchString(d) {
		return datePattern.FindString(d), nil
	}
	return firstDate(h.Chunk.Text), nil
}

// orderBookKey carries the turn's order book in its ctx.
type orderBookKey struct{}

func withOrderBook(ctx context.Context, b *orderBook) context.Context {
	return context.WithValue(ctx, orderBookKey{}, b)
}

// bookFrom returns the turn's order book, or a new one for customer when
// ctx carries none (or one of another shopper).
func bookFrom(ctx context.Context, p *Pipeline, customer string, refs []string) *orderBook {
	if b, ok := ctx.Value(orderBookKey{}).(*orderBook); ok && b.p == p && b.customer == customer {
		return b
	}
	return p.newOrderBook(customer, refs)
}

// without returns the hits of all that are not in some, in order.
func without(all, some []kefu.Hit) []kefu.Hit {
	var out []kefu.Hit
	for _, h := range all {
		if !containsHit(some, h) {
			out = append(out, h)
		}
	}
	return out
}

func containsHit(hs []kefu.Hit, h kefu.Hit) bool {
	for _, x := range hs {
		if x.Chunk.ID == h.Chunk.ID {
			return true
		}
	}
	return false
}

// matchOrders picks the orders a question means: those that contain the
// question's specific words (a product name), else the most recent ones.
func matchOrders(hits []kefu.Hit, query string) []kefu.Hit {
	var specific []string
	for _, term := range tokenize.Terms(query) {
		if !genericOrderTerms[term] {
			specific = append(specific, term)
		}
	}
	type scored struct {
		h    kefu.Hit
		n    int
		date string
	}
	all := make([]scored, len(hits))
	best := 0
	for i, h := range hits {
		terms := map[string]bool{}
		for _, term := range tokenize.Terms(h.Chunk.Title + "\n" + h.Chunk.Text) {
			terms[term] = true
		}
		n := 0
		for _, term := range specific {
			if terms[term] {
				n++
			}
		}
		all[i] = scored{h: h, n: n, date: firstDate(h.Chunk.Text)}
		best = max(best, n)
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].n != all[j].n {
			return all[i].n > all[j].n
		}
		return all[i].date > all[j].date
	})
	var out []kefu.Hit
	for _, s := range all {
		// Need at least half of the specific words for a targeted match.
		if best > 0 && 2*s.n < best+1 {
			break
		}
		out = append(out, s.h)
	}
	return out
}

var datePattern = regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)

func firstDate(text string) string { return datePattern.FindString(text) }

// orderFields are the record lines an order summary keeps, by normalised
// key, with their Chinese labels.
var orderFields = []struct{ key, zh string }{
	{"order id", "订单号"},
	{"status", "状态"},
	{"placed at", "下单日期"},
	{"items", "商品"},
	{"total", "合计"},
	{"carrier", "快递公司"},
	{"tracking number", "运单号"},
	{"estimated delivery", "预计送达"},
	{"delivered at", "签收日期"},
}

var statusZH = map[string]string{
	"pending_payment": "待付款", "processing": "处理中", "shipped": "已发货", "delivered": "已签收",
	"cancelled": "已取消", "return_requested": "退货申请中", "refunded": "已退款",
}

// orderSummary renders the useful lines of an order record ("Key: value"
// lines, list items under Items) as one compact line.
func orderSummary(text, locale string) string {
	lines := strings.Split(text, "\n")
	var parts []string
	for _, f := range orderFields {
		for i, line := range lines {
			key, value, ok := strings.Cut(line, ":")
			if !ok || normKey(key) != f.key {
				continue
			}
			value = strings.TrimSpace(value)
			if f.key == "items" {
				var items []string
				if value != "" {
					items = append(items, value)
				}
				for _, l := range lines[i+1:] {
					l = strings.TrimSpace(l)
					if !strings.HasPrefix(l, "- ") && !strings.HasPrefix(l, "* ") {
						break
					}
					items = append(items, strings.TrimSpace(l[2:]))
				}
				value = strings.Join(items, ", ")
			}
			if value == "" {
				break
			}
			label := strings.TrimSpace(key)
			if locale == "zh" {
				label = f.zh
				if zh, ok := statusZH[value]; ok && f.key == "status" {
					value = zh + " (" + value + ")"
				}
			}
			parts = append(parts, label+": "+value)
			break
		}
	}
	if len(parts) == 0 {
		return snippet(text, 300)
	}
	sep := "; "
	if locale == "zh" {
		sep = "；"
	}
	return "- " + strings.Join(parts, sep)
}

func normKey(k string) string {
	k = strings.ToLower(strings.TrimSpace(k))
	k = strings.NewReplacer("_", " ", "-", " ").Replace(k)
	return k
}
