package rag

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/tokenize"
)

// OrderLister lists a shopper's orders in the shop's live order system,
// each as "Key: value" lines, newest first, bounded by the lister. An
// OrderLookup that also lists (orders.Client does) answers "my orders"
// questions live; one that does not leaves them to the ingested copies.
type OrderLister interface {
	Orders(ctx context.Context, customerID string) ([]string, error)
}

// orderBook is one turn's view of the shopper's orders: live from the
// shop's order system when one is configured, else the ingested copies,
// and the ingested copies again, labelled stale, when the order system
// fails. It is loaded at most once per turn. It is safe for concurrent use.
type orderBook struct {
	p        *Pipeline
	customer string
	refs     []string

	once       sync.Once
	hits       []kefu.Hit  // the orders the turn may show, as hits
	stale      bool        // the order system failed: hits are the ingested copies
	listedLive bool        // hits came from the order system
	asOf       string      // with stale, the newest day those copies were ingested ("" unknown)
	err        error       // the store failed too
	down       atomic.Bool // a call to the order system failed this turn
}

// unavailable reports whether the order system failed this turn, so that
// an order not found may only be missing from the ingested copies.
func (b *orderBook) unavailable() bool { return b.down.Load() }

func (p *Pipeline) newOrderBook(customer string, refs []string) *orderBook {
	if len(refs) > maxOrdersShown {
		refs = refs[:maxOrdersShown]
	}
	return &orderBook{p: p, customer: customer, refs: refs}
}

// load fills the book. With a live lookup, the orders the shopper names
// are asked for one by one (an unknown number is authoritatively not
// there); with none named, the live list is asked for. Any failure of the
// order system falls back to the store, marked stale.
func (b *orderBook) load(ctx context.Context) ([]kefu.Hit, error) {
	b.once.Do(func() {
		if b.customer == "" {
			return
		}
		if l := b.p.opts.orders; l != nil {
			hits, ok, err := b.live(ctx, l)
			if err == nil && ok {
				b.hits, b.listedLive = hits, true
				return
			}
			// Failed: the ingested copies stand in, labelled. A lookup
			// that cannot list leaves a list to the ingested copies, and
			// find still asks it for each order by number.
			b.stale = err != nil
			if b.stale {
				b.down.Store(true)
			}
		}
		b.hits, b.err = b.p.storedOrders(ctx, b.customer)
		if b.stale {
			for _, h := range b.hits {
				b.asOf = max(b.asOf, h.Chunk.Meta[kefu.MetaIngestedAt])
			}
		}
	})
	return b.hits, b.err
}

// live asks the order system; ok is false when it cannot answer this
// question (no list call).
func (b *orderBook) live(ctx context.Context, l OrderLookup) ([]kefu.Hit, bool, error) {
	var hits []kefu.Hit
	if len(b.refs) > 0 {
		for _, ref := range b.refs {
			text, found, err := l.Order(ctx, b.customer, ref)
			if err != nil {
				return nil, false, err
			}
			if found && strings.TrimSpace(text) != "" {
				hits = append(hits, liveOrderHit(b.customer, ref, text))
			}
		}
		return hits, true, nil
	}
	lister, ok := l.(OrderLister)
	if !ok {
		return nil, false, nil
	}
	texts, err := lister.Orders(ctx, b.customer)
	if err != nil {
		return nil, false, err
	}
	for i, text := range texts {
		if i == maxOrdersListed {
			break
		}
		id := recordValue(text, orderIDKeys)
		if id == "" {
			id = fmt.Sprintf("#%d", i+1)
		}
		hits = append(hits, liveOrderHit(b.customer, id, text))
	}
	return hits, true, nil
}

// find returns the shopper's order id: from the orders the turn loaded
// live, else asked of the order system by number, else (no order system,
// or it failed) the ingested copy, labelled when it stands in for a
// failed order system.
func (b *orderBook) find(ctx context.Context, id string) (kefu.Hit, bool, error) {
	hits, err := b.load(ctx)
	if err != nil {
		return kefu.Hit{}, false, err
	}
	mine := func(hits []kefu.Hit) (kefu.Hit, bool) {
		for _, h := range hits {
			// The store and the client filtered by owner already;
			// checking again costs nothing.
			if h.Chunk.CustomerID == b.customer && h.Chunk.Type == kefu.TypeOrder && isOrder(h.Chunk, id) {
				return h, true
			}
		}
		return kefu.Hit{}, false
	}
	l := b.p.opts.orders
	if l == nil {
		h, ok := mine(hits)
		return h, ok, nil
	}
	if b.listedLive {
		if h, ok := mine(hits); ok || containsFold(b.refs, id) {
			return h, ok, nil
		}
	}
	if !b.stale {
		text, found, err := l.Order(ctx, b.customer, id)
		switch {
		case err == nil && found && strings.TrimSpace(text) != "":
			return liveOrderHit(b.customer, id, text), true, nil
		case err == nil:
			return kefu.Hit{}, false, nil // the order system says there is none
		}
		b.down.Store(true)
	}
	stored, err := b.p.storedOrders(ctx, b.customer)
	if err != nil {
		return kefu.Hit{}, false, err
	}
	if h, ok := mine(stored); ok {
		return staleHit(h), true, nil
	}
	return kefu.Hit{}, false, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// staleHit labels an ingested copy shown because the order system failed.
func staleHit(h kefu.Hit) kefu.Hit {
	asOf := h.Chunk.Meta[kefu.MetaIngestedAt]
	if asOf == "" {
		asOf = "the last import"
	}
	h.Chunk.Text = "(The shop's order system did not answer; this copy is as of " + asOf + ".)\n" + h.Chunk.Text
	return h
}

// storedOrders lists the shopper's ingested orders through the store's
// owner filter.
func (p *Pipeline) storedOrders(ctx context.Context, customer string) ([]kefu.Hit, error) {
	f := kefu.Filter{CustomerID: customer, OnlyCustomer: true, Types: []string{kefu.TypeOrder}}
	hits, err := p.search.Search(ctx, kefu.Query{Filter: f, TopK: maxOrdersListed})
	if err != nil {
		return nil, kefu.WrapError(kefu.EUnavailable, "the knowledge store is unavailable", fmt.Errorf("list orders: %w", err))
	}
	return hits, nil
}

// liveOrderHit is an order the order system returned, as a hit.
func liveOrderHit(customer, id, text string) kefu.Hit {
	return kefu.Hit{Score: 1, Chunk: kefu.Chunk{
		ID: "order-service:" + id, DocID: "order-service:" + id, Type: kefu.TypeOrder,
		Title: "Order " + id, Source: "order service", CustomerID: customer, Text: text,
	}}
}

// recordValue returns the value of the first "Key: value" line of text
// whose normalised key is in keys.
func recordValue(text string, keys map[string]bool) string {
	for _, line := range strings.Split(text, "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			key, value, ok = strings.Cut(line, "：")
		}
		if ok && keys[normKey(key)] {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// matchRefs keeps the hits that hold one of refs, in the order of refs.
func matchRefs(hits []kefu.Hit, refs []string) []kefu.Hit {
	var chosen []kefu.Hit
	for _, ref := range refs {
		want := tokenize.Normalize(ref)
		for _, h := range hits {
			if strings.Contains(tokenize.Normalize(h.Chunk.Text), want) && !containsHit(chosen, h) {
				chosen = append(chosen, h)
			}
		}
	}
	return chosen
}
