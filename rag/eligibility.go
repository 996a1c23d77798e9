package rag

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/guard"
	"github.com/kefuhq/kefu/rules"
	"github.com/kefuhq/kefu/understand"
)

// RuleBook decides whether an after-sales action is allowed on an order;
// *rules.Book satisfies it.
type RuleBook interface {
	FactsText(text string) (rules.Facts, error)
	Check(f rules.Facts, a rules.Action, now time.Time) rules.Decision
}

var _ RuleBook = (*rules.Book)(nil)

// WithRules gives the pipeline the shop's rules: when a signed-in shopper
// asks whether they can cancel, change, return, exchange, refund or
// price-protect one of their orders, the decision is computed from the
// order's facts and the rule in force on the day it was placed, stated (by
// the extractive answerer) or checked (a model's answer that contradicts it
// is replaced), and sent with the reply as Meta.Eligibility. A model is also
// offered the check_eligibility tool.
func WithRules(b RuleBook) Option { return func(o *options) { o.rules = b } }

// ToolCheckEligibility is the tool a model calls for a decision.
const ToolCheckEligibility = "check_eligibility"

// Eligibility is the decision a reply carries: whether the action is
// allowed on the order, why (in the reply's language) and the rule that
// decided ("id@version").
type Eligibility struct {
	OrderID  string `json:"order_id"`
	Action   string `json:"action"`
	Eligible bool   `json:"eligible"`
	Reason   string `json:"reason"`
	Rule     string `json:"rule"`
}

// actionOrder is the order in which action cues are tried: the more
// specific first ("退差价" is price protection, not a refund; "cancel and
// refund" a cancellation).
var actionOrder = []rules.Action{rules.PriceProtection, rules.ModifyAddress, rules.ModifyItems, rules.Exchange,
	rules.Cancel, rules.Return, rules.Warranty, rules.Refund}

// askedAction returns the after-sales action a message asks about, "" for
// none, from the understanding's action cues.
func askedAction(norm string) rules.Action {
	for _, a := range actionOrder {
		if hasAny(norm, understand.Cues.Actions[string(a)]) {
			return a
		}
	}
	return ""
}

// possessive cues say that the shopper means an order of theirs ("my
// order", 我的) rather than the rule in general.
var possessiveCues = []string{"my order", "my parcel", "my package", "my ", "i bought", "i ordered", "this order", "that order", "the order",
	"我的", "我买的", "我下的", "这个订单", "这单", "这笔订单", "那个订单", "订单"}

// eligibilityAsked reports whether the turn asks whether an action can be
// taken on one of the shopper's orders, and which action.
func (p *Pipeline) eligibilityAsked(t Turn, u Understanding) (rules.Action, bool) {
	if p.opts.rules == nil || t.CustomerID == "" || u.Injection {
		return "", false
	}
	a := askedAction(u.normalized)
	if a == "" || !hasAny(u.normalized, understand.Cues.Ability) {
		return "", false
	}
	// A follow-up ("can I still send it back?") leans on the question
	// before it ("has my robot vacuum arrived?"), which the query holds.
	followed := u.FollowUp && hasAny(" "+guard.Fold(u.Query)+" ", possessiveCues)
	if len(u.OrderRefs) > 0 || u.MyOrders || followed || hasAny(u.normalized, possessiveCues) {
		return a, true
	}
	return "", false
}

// eligibility plans the answer to "can I <action> my order?": the order is
// found among the shopper's own (by its number, else by the words of the
// question, else the latest), its facts read and the action checked.
func (p *Pipeline) eligibility(ctx context.Context, t Turn, u Understanding, meta *Meta, a rules.Action, hits []kefu.Hit) (*plan, error) {
	order, found, err := p.askedOrder(ctx, t, u)
	if err != nil {
		return nil, err
	}
	if !found {
		if len(u.OrderRefs) > 0 {
			return p.fixed(DecideAnswer, u.Locale, "order_not_found", replyData{OrderID: u.OrderRefs[0]})
		}
		return p.fixed(DecideAnswer, u.Locale, "no_orders", replyData{})
	}
	facts, err := p.opts.rules.FactsText(order.Chunk.Text)
	if err != nil {
		// An order the rules cannot read is a person's to judge.
		meta.Reason = "order_unreadable"
		return p.escalate(u.Locale, "order_unreadable")
	}
	if facts.OrderID == "" {
		facts.OrderID = orderIDOf(order.Chunk)
	}
	d := p.opts.rules.Check(facts, a, p.opts.now())
	meta.Eligibility = eligibilityOf(d, u.Locale)
	meta.Retrieved = append([]kefu.Hit{order}, without(meta.Retrieved, []kefu.Hit{order})...)
	if meta.Intent == IntentOther || meta.Intent == IntentChitChat {
		meta.Intent = IntentReturn
	}
	if a == rules.Warranty {
		meta.Intent = IntentWarranty
	}
	policy := policyFor(a, p.ruleHits(ctx, u.Query, hits))
	if p.extractive() {
		// The decision is stated as computed, citing the order and the
		// policy passage that states the rule.
		text := d.Text(u.Locale) + " [1]"
		if len(policy) > 0 {
			text += "[2]"
		}
		return &plan{decision: DecideAnswer, text: text, context: append([]kefu.Hit{order}, policy...), eligibility: &d}, nil
	}
	// A model writes the answer from the decision, the order and the
	// policy; the fact gate refuses an answer that contradicts the decision.
	ctxHits := append([]kefu.Hit{decisionHit(d, u.Locale), order}, policy...)
	pl, err := p.answer(ctx, t, u, meta, ctxHits, "")
	if err != nil {
		return nil, err
	}
	pl.eligibility = &d
	return pl, nil
}

// policyFor picks the public passage that best states the rule for a: one
// whose title or heading names the action over one whose text does; never a
// product page. It returns at most one hit.
func policyFor(a rules.Action, hits []kefu.Hit) []kefu.Hit {
	cues := understand.Cues.Actions[string(a)]
	best, bestScore := -1, 0
	for i, h := range hits {
		if h.Chunk.Type == kefu.TypeProduct || h.Chunk.Type == kefu.TypeOrder {
			continue
		}
		score := 0
		if hasAny(" "+guard.Fold(h.Chunk.Title+" "+h.Chunk.Heading)+" ", cues) {
			score = 2
		} else if hasAny(" "+guard.Fold(h.Chunk.Text)+" ", cues) {
			score = 1
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return nil
	}
	return hits[best : best+1]
}

// extractive reports whether answers are written by the extractive
// answerer, which quotes and cannot state a computed decision itself.
func (p *Pipeline) extractive() bool {
	q, ok := p.gen.(interface{ IgnoresPrompt() bool })
	return ok && q.IgnoresPrompt()
}

// askedOrder finds the order the turn asks about among the shopper's own:
// the order number named, else the orders the question's words pick (a
// product name), else the latest.
func (p *Pipeline) askedOrder(ctx context.Context, t Turn, u Understanding) (kefu.Hit, bool, error) {
	tb := p.newToolbox(t, "", "", nil)
	for _, ref := range u.OrderRefs {
		h, found, err := tb.findOrder(ctx, ref)
		if err != nil || found {
			return h, found, err
		}
	}
	if len(u.OrderRefs) > 0 {
		return kefu.Hit{}, false, nil
	}
	if u.FollowUp {
		// "Can I still return it?" after a reply about one order: the
		// newest earlier message naming one of the shopper's orders.
		for i := len(t.History) - 1; i >= 0 && i >= len(t.History)-maxHistoryLook; i-- {
			for _, id := range understand.Identifiers(t.History[i].Content) {
				if id.Kind != understand.KindOrder {
					continue
				}
				if h, found, err := tb.findOrder(ctx, id.Text); err != nil || found {
					return h, found, err
				}
			}
		}
	}
	// The shopper's orders as the turn's order book holds them: live
	// first, the ingested copies when the order system fails.
	hits, err := bookFrom(ctx, p, t.CustomerID, u.OrderRefs).load(ctx)
	if err != nil {
		return kefu.Hit{}, false, err
	}
	var own []kefu.Hit
	for _, h := range hits {
		if h.Chunk.CustomerID == t.CustomerID && h.Chunk.Type == kefu.TypeOrder {
			own = append(own, h)
		}
	}
	if chosen := matchOrders(own, u.Query); len(chosen) > 0 {
		return chosen[0], true, nil
	}
	return kefu.Hit{}, false, nil
}

// maxHistoryLook is how many earlier messages a follow-up's order is
// looked for in.
const maxHistoryLook = 4

// orderIDOf is an order chunk's number from its title ("Order W1").
func orderIDOf(c kefu.Chunk) string {
	if f := strings.Fields(c.Title); len(f) > 0 {
		return f[len(f)-1]
	}
	return ""
}

func eligibilityOf(d rules.Decision, locale string) *Eligibility {
	return &Eligibility{OrderID: d.OrderID, Action: string(d.Action), Eligible: d.Eligible, Reason: d.Text(locale), Rule: d.Rule}
}

// decisionHit is the decision as a passage a model reads and cites.
func decisionHit(d rules.Decision, locale string) kefu.Hit {
	id := "eligibility:" + d.OrderID + ":" + string(d.Action)
	title := "Eligibility of order " + d.OrderID
	if locale == "zh" {
		title = "订单" + d.OrderID + "的办理资格"
	}
	verdict := map[bool]string{true: "eligible", false: "not eligible"}[d.Eligible]
	text := fmt.Sprintf("Action: %s\nEligible: %s\nRule: %s\n%s", d.Action, verdict, d.Rule, d.Text(locale))
	return kefu.Hit{Score: 1, Chunk: kefu.Chunk{ID: id, DocID: id, Type: kefu.TypePolicy, Title: title, Source: "shop rules", Text: text}}
}

// checkEligibility is the check_eligibility tool: the decision for one of
// the signed-in shopper's orders, as a numbered passage. Another shopper's
// order, an unknown one and any asked on an anonymous turn are "not found".
func (tb *toolbox) checkEligibility(ctx context.Context, raw json.RawMessage) (string, error) {
	const example = `{"order_id": "W260912-1001", "action": "return"}`
	var args struct {
		OrderID string `json:"order_id"`
		Action  string `json:"action"`
	}
	if err := json.Unmarshal(raw, &args); err != nil {
		return badArguments(ToolCheckEligibility, example, err), nil
	}
	id := strings.TrimSpace(args.OrderID)
	a, ok := rules.ParseAction(args.Action)
	if id == "" || len(id) > maxOrderIDLen || !ok {
		return badArguments(ToolCheckEligibility, example, nil), nil
	}
	notFound := fmt.Sprintf("not found: the shopper has no order %q.", id)
	if tb.customer == "" {
		return notFound, nil
	}
	h, found, err := tb.findOrder(ctx, id)
	if err != nil || !found {
		return notFound, err
	}
	facts, err := tb.p.opts.rules.FactsText(h.Chunk.Text)
	if err != nil {
		return "error: the order's record cannot be read by the shop's rules; offer a person.", nil
	}
	if facts.OrderID == "" {
		facts.OrderID = id
	}
	d := tb.p.opts.rules.Check(facts, a, tb.p.opts.now())
	tb.mu.Lock()
	tb.decisions = append(tb.decisions, d)
	tb.mu.Unlock()
	n := tb.add(decisionHit(d, tb.locale))
	if n == 0 {
		return "error: no more passages can be added to this answer; answer from what you have.", nil
	}
	var b strings.Builder
	writePassage(&b, n, decisionHit(d, tb.locale).Chunk)
	return strings.TrimRight(b.String(), "\n"), nil
}

// eligibilityTool is the tool's declaration.
func (tb *toolbox) eligibilityTool() kefu.Tool {
	actions := make([]string, len(rules.Actions))
	for i, a := range rules.Actions {
		actions[i] = string(a)
	}
	return kefu.Tool{
		Name: ToolCheckEligibility,
		Description: "Decide from the shop's rules whether an after-sales action is allowed on one of the signed-in shopper's orders " +
			"(the rule in force when the order was placed). Returns the decision and its reason as a numbered passage (cite it as [n]); " +
			"never tell the shopper otherwise.",
		Parameters: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"order_id": map[string]any{"type": "string", "description": "the order number, e.g. W260912-1001"},
				"action":   map[string]any{"type": "string", "enum": actions},
			},
			"required": []string{"order_id", "action"},
		},
		Call: tb.checkEligibility,
	}
}

// contradicts reports whether a sentence of an answer says the opposite of
// a decision: that the action can be taken when it cannot, or cannot when
// it can. It reads the plain ways of saying either in English and Chinese;
// a sentence that does not speak of the action does not contradict.
func contradicts(sentence string, d rules.Decision) bool {
	s := " " + guard.Fold(sentence) + " "
	if !hasAny(s, understand.Cues.Actions[string(d.Action)]) && !hasAny(s, []string{"eligible", "符合", "可以办理"}) {
		return false
	}
	neg := hasAny(s, negativeCues)
	rest := s
	for _, c := range negativeCues {
		rest = strings.ReplaceAll(rest, c, " ")
	}
	pos := hasAny(rest, positiveCues)
	if d.Eligible {
		return neg && !pos
	}
	return pos && !neg
}

var (
	negativeCues = []string{"cannot", "can't", "can not", "can no longer", "no longer", "not eligible", "ineligible", "isn't eligible",
		"is not eligible", "not possible", "unable", "won't be able", "not allowed", "too late", "has closed", "have closed", "expired",
		"不能", "不可以", "无法", "不支持", "不符合", "已过", "过了", "超过", "不行", "不可", "不予"}
	positiveCues = []string{"you can", "can be", "you may", "is eligible", "are eligible", "eligible for", "still able", "yes,", "yes ",
		"allowed", "可以", "能够", "支持", "符合", "还能", "能退", "能换", "能取消"}
)
