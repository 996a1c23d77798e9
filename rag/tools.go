package rag

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/rules"
	"github.com/kefuhq/kefu/telemetry"
	"github.com/kefuhq/kefu/tokenize"
)

// OrderLookup reads one order of a shopper from the shop's live order
// system. found is false when the shopper has no such order, including
// when it belongs to someone else; text is the order as "Key: value"
// lines. An error is a fault of the order system.
type OrderLookup interface {
	Order(ctx context.Context, customerID, orderID string) (text string, found bool, err error)
}

// WithOrderLookup makes the get_order tool read orders from the shop's
// live order system instead of the ingested copies in the store.
func WithOrderLookup(l OrderLookup) Option { return func(o *options) { o.orders = l } }

// Tool names offered to a model backend.
const (
	ToolSearchKnowledge = "search_knowledge"
	ToolGetOrder        = "get_order"
	ToolProposeAction   = "propose_action"
)

// maxToolPassages caps how many passages one turn's context may grow to
// through tool calls, so that a model calling in a loop cannot flood the
// prompt.
const maxToolPassages = 24

// toolbox is one turn's tools and the passages they found. The passages
// continue the numbering of the context the prompt shows ([1]..[k]), so a
// model cites what a tool returned as it cites the prompt's passages, and
// the fact gate and the citations read the grown context (plan.syncTools).
// It is safe for concurrent use.
type toolbox struct {
	p        *Pipeline
	customer string // the authenticated shopper, "" when anonymous
	at       string // the day policies are read as in force
	turn     Turn
	locale   string // the reply's language

	mu        sync.Mutex
	hits      []kefu.Hit
	changed   bool             // hits grew since the last take
	decisions []rules.Decision // what check_eligibility decided this turn
	prop      *ActionRef
	propMsg   string // the proposal as the shopper must see it
}

// newToolbox returns the tools of a turn whose prompt shows ctxHits,
// numbered from 1.
func (p *Pipeline) newToolbox(t Turn, at, locale string, ctxHits []kefu.Hit) *toolbox {
	if locale == "" {
		locale = t.Locale
	}
	return &toolbox{p: p, customer: t.CustomerID, at: at, turn: t, locale: locale, hits: append([]kefu.Hit(nil), ctxHits...)}
}

// tools returns the tools offered to the model, bound to this turn.
func (tb *toolbox) tools() []kefu.Tool {
	tools := tb.baseTools()
	if tb.p.opts.rules != nil {
		tools = append(tools, tb.eligibilityTool())
	}
	if t, ok := tb.proposeTool(); ok {
		tools = append(tools, t)
	}
	for i := range tools {
		tools[i].Call = tracedTool(tools[i].Name, tools[i].Call)
	}
	return tools
}

// tracedTool runs call in a span named for the tool (its arguments and
// result stay out of the span: they may name a shopper's order).
func tracedTool(name string, call func(context.Context, json.RawMessage) (string, error)) func(context.Context, json.RawMessage) (string, error) {
	return func(ctx context.Context, args json.RawMessage) (string, error) {
		ctx, span := telemetry.Start(ctx, "kefu.tool", attribute.String("kefu.tool", name))
		out, err := call(ctx, args)
		telemetry.End(span, err)
		return out, err
	}
}

func (tb *toolbox) baseTools() []kefu.Tool {
	return []kefu.Tool{
		{
			Name: ToolSearchKnowledge,
			Description: "Search the shop's knowledge (policies, products, FAQ, and the signed-in shopper's own orders) " +
				"for passages the prompt does not already show. Returns numbered passages; cite them as [n].",
			Parameters: map[string]any{
				"type": "object",
				"properties": map[string]any{
					"query": map[string]any{"type": "string", "description": "what to look for, in the shopper's language"},
				},
				"required": []string{"query"},
			},
			Call: tb.searchKnowledge,
		},
		{
			Name: ToolGetOrder,
			Description: "Look up one of the signed-in shopper's orders by its order number. " +
				"Returns the order as a numbered passage (cite it as [n]), or \"not found\".",
			Parameters: map[string]any{
				"type": "object",
				"properties": map[string]any{
					"order_id": map[string]any{"type": "string", "description": "the order number, e.g. W260912-1001"},
				},
				"required": []string{"order_id"},
			},
			Call: tb.getOrder,
		},
	}
}

// proposeTool is the propose_action tool, offered with after-sales
// actions on a signed-in shopper's conversation.
func (tb *toolbox) proposeTool() (kefu.Tool, bool) {
	if ao := tb.p.opts.actions; ao == nil || ao.rules == nil || tb.customer == "" || tb.turn.ConversationID == "" {
		return kefu.Tool{}, false
	}
	return kefu.Tool{
		Name: ToolProposeAction,
		Description: "Propose an after-sales action on one of the signed-in shopper's orders: cancel, change_address, " +
			"return, exchange or price_protection. kefu checks the shop's rules; an eligible action is shown to the " +
			"shopper and runs only if they reply yes in their next message. Never say an action is done.",
		Parameters: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"order_id":    map[string]any{"type": "string", "description": "the order number"},
				"kind":        map[string]any{"type": "string", "enum": ActionKinds},
				"new_address": map[string]any{"type": "string", "description": "for change_address: the new delivery address"},
				"request":     map[string]any{"type": "string", "description": "what the shopper asked for, in their words"},
			},
			"required": []string{"order_id", "kind"},
		},
		Call: tb.proposeAction,
	}, true
}

// proposeAction is the propose_action tool: the same proposal the
// offline flow makes, on an order of the shopper's only.
func (tb *toolbox) proposeAction(ctx context.Context, raw json.RawMessage) (string, error) {
	const example = `{"order_id": "W260912-1001", "kind": "return"}`
	var args struct {
		OrderID    string `json:"order_id"`
		Kind       string `json:"kind"`
		NewAddress string `json:"new_address"`
		Request    string `json:"request"`
	}
	if err := json.Unmarshal(raw, &args); err != nil {
		return badArguments(ToolProposeAction, example, err), nil
	}
	id := strings.TrimSpace(args.OrderID)
	if id == "" || len(id) > maxOrderIDLen || !slices.Contains(ActionKinds, args.Kind) {
		return badArguments(ToolProposeAction, example, nil), nil
	}
	h, found, err := tb.findOrder(ctx, id)
	if err != nil {
		return "", err
	}
	if !found {
		return fmt.Sprintf("not found: the shopper has no order %q.", id), nil
	}
	details := map[string]string{}
	if args.Kind == ActionChangeAddress {
		if a := strings.TrimSpace(args.NewAddress); a != "" {
			details["new_address"] = clipRunes(a, maxActionDetail)
		}
	} else if r := strings.TrimSpace(args.Request); r != "" {
		details["request"] = clipRunes(r, maxActionDetail)
	}
	pl, _, err := tb.p.propose(ctx, tb.turn, tb.locale, &Meta{}, args.Kind, id, h, details)
	if err != nil {
		return "", err
	}
	if pl.action == nil {
		return "error: " + pl.text, nil // asks for what is missing (a new address)
	}
	if pl.action.State != ActionProposed {
		return "not eligible: " + pl.text, nil
	}
	tb.mu.Lock()
	tb.prop, tb.propMsg = pl.action, pl.text
	tb.mu.Unlock()
	return "proposed, awaiting the shopper's yes (kefu shows them this after your answer): " + pl.text, nil
}

// proposed is the action the model proposed this turn, if any.
func (tb *toolbox) proposed() *ActionRef {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.prop
}

// proposal is the proposal's text the shopper must see, "" for none.
func (tb *toolbox) proposal() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.propMsg
}

// take returns the turn's passages as they stand, numbered from 1, and
// whether they grew since the last take.
func (tb *toolbox) take() ([]kefu.Hit, bool) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	changed := tb.changed
	tb.changed = false
	return append([]kefu.Hit(nil), tb.hits...), changed
}

// add makes h a passage of the turn and returns its number: the number it
// already has when the same chunk is there, 0 when the context is full.
func (tb *toolbox) add(h kefu.Hit) int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for i, x := range tb.hits {
		if x.Chunk.ID == h.Chunk.ID {
			return i + 1
		}
	}
	if len(tb.hits) >= maxToolPassages {
		return 0
	}
	tb.hits = append(tb.hits, h)
	tb.changed = true
	return len(tb.hits)
}

// searchKnowledge runs the turn's retrieval (the same filter: public
// knowledge in force on the turn's day plus the shopper's own chunks) for
// the model's query and returns the relevant passages, numbered.
func (tb *toolbox) searchKnowledge(ctx context.Context, raw json.RawMessage) (string, error) {
	var args struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(raw, &args); err != nil {
		return badArguments(ToolSearchKnowledge, `{"query": "return policy for opened items"}`, err), nil
	}
	query := redact(strings.TrimSpace(args.Query))
	if query == "" {
		return badArguments(ToolSearchKnowledge, `{"query": "return policy for opened items"}`, nil), nil
	}
	hits, err := tb.p.retrieve(ctx, query, expansion(query), kefu.Filter{CustomerID: tb.customer, At: tb.at}, tb.p.opts.topK)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	shown := 0
	for _, h := range hits {
		if shown == tb.p.opts.contextK {
			break
		}
		if !tb.p.relevant(h) || tb.p.planted(h.Chunk) { // first-stage hits: the first-stage bar
			continue
		}
		n := tb.add(h)
		if n == 0 {
			break
		}
		writePassage(&b, n, h.Chunk)
		shown++
	}
	if shown == 0 {
		return "No passages found for this query.", nil
	}
	return strings.TrimRight(b.String(), "\n"), nil
}

// maxOrderIDLen bounds an order number the model passes.
const maxOrderIDLen = 64

// getOrder looks up one of the authenticated shopper's orders: in the live
// order system when one is configured, else in the store through the owner
// filter. Another shopper's order, an unknown one, and any order asked
// for on an anonymous turn all give the same "not found".
func (tb *toolbox) getOrder(ctx context.Context, raw json.RawMessage) (string, error) {
	var args struct {
		OrderID string `json:"order_id"`
	}
	if err := json.Unmarshal(raw, &args); err != nil {
		return badArguments(ToolGetOrder, `{"order_id": "W260912-1001"}`, err), nil
	}
	id := strings.TrimSpace(args.OrderID)
	if id == "" || len(id) > maxOrderIDLen {
		return badArguments(ToolGetOrder, `{"order_id": "W260912-1001"}`, nil), nil
	}
	notFound := fmt.Sprintf("not found: the shopper has no order %q.", id)
	if tb.customer == "" {
		return notFound, nil
	}
	h, found, err := tb.findOrder(ctx, id)
	if err != nil || !found {
		return notFound, err
	}
	n := tb.add(h)
	if n == 0 {
		return "error: no more passages can be added to this answer; answer from what you have.", nil
	}
	var b strings.Builder
	writePassage(&b, n, h.Chunk)
	return strings.TrimRight(b.String(), "\n"), nil
}

// findOrder returns the shopper's order id as a hit: live when an order
// system is configured, the ingested copy (labelled with its day) when it
// fails, the store's otherwise.
func (tb *toolbox) findOrder(ctx context.Context, id string) (kefu.Hit, bool, error) {
	return bookFrom(ctx, tb.p, tb.customer, nil).find(ctx, id)
}

// orderIDKeys are the record keys (normalised) that hold an order number.
var orderIDKeys = map[string]bool{"order id": true, "order number": true, "order no": true, "订单号": true, "订单编号": true}

// isOrder reports whether an order chunk is the order id: its order
// number line, or the last word of its title, is id (case and width
// folded). A part of a number ("1001" of "W260912-1001") does not match.
func isOrder(c kefu.Chunk, id string) bool {
	want := tokenize.Normalize(id)
	for _, line := range strings.Split(c.Text, "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			key, value, ok = strings.Cut(line, "：")
		}
		if ok && orderIDKeys[normKey(key)] && tokenize.Normalize(strings.TrimSpace(value)) == want {
			return true
		}
	}
	if f := strings.Fields(c.Title); len(f) > 0 && tokenize.Normalize(f[len(f)-1]) == want {
		return true
	}
	return false
}

// writePassage writes a passage as a tool returns it: its number and
// title, then its text with personal data redacted, as the prompt shows
// passages.
func writePassage(b *strings.Builder, n int, c kefu.Chunk) {
	fmt.Fprintf(b, "[%d] %s", n, c.Title)
	if c.Heading != "" {
		b.WriteString(" > " + c.Heading)
	}
	b.WriteString("\n" + redact(c.Text) + "\n\n")
}

// badArguments is what a tool tells the model about arguments it cannot
// use: what was wrong and an example of what works.
func badArguments(tool, example string, err error) string {
	msg := "error: " + tool + " needs arguments like " + example
	if err != nil {
		msg += "; those given are not valid JSON (" + err.Error() + ")"
	}
	return msg
}

// syncTools brings the plan's context, and the gate's sources, up to the
// passages the turn's tools have added.
func (pl *plan) syncTools(g *factGate) {
	if pl.tools == nil {
		return
	}
	if hits, changed := pl.tools.take(); changed {
		pl.context = hits
		g.sources = passageTexts(hits)
		pl.tools.mu.Lock()
		g.decisions = append([]rules.Decision(nil), pl.tools.decisions...)
		pl.tools.mu.Unlock()
	}
}
