package rag

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/guard"
)

// After-sales action kinds.
const (
	ActionCancel          = "cancel"
	ActionChangeAddress   = "change_address"
	ActionReturn          = "return"
	ActionExchange        = "exchange"
	ActionPriceProtection = "price_protection"
)

// ActionKinds lists every after-sales action kind.
var ActionKinds = []string{ActionCancel, ActionChangeAddress, ActionReturn, ActionExchange, ActionPriceProtection}

// Action states, as a turn reports them (Done.Action).
const (
	ActionProposed   = "proposed"    // shown to the shopper, awaiting their yes
	ActionDone       = "done"        // the order system took it
	ActionFailed     = "failed"      // the order system refused it, or could not be reached
	ActionHandedOver = "handed_over" // no order system takes actions: prepared for an agent
	ActionCancelled  = "cancelled"   // the shopper said no, or moved on
)

// PendingAction is an after-sales action described to the shopper and
// awaiting their explicit yes. ID is its idempotency key at the order
// system.
type PendingAction struct {
	ID             string
	ConversationID string
	CustomerID     string
	Kind           string
	OrderID        string
	Details        map[string]string
	Summary        string // the words the shopper was shown
	Locale         string
	ExpiresAt      time.Time
}

// ActionStore keeps each conversation's pending action with the
// conversation (sealed at rest). Put replaces the conversation's pending
// action. Take hands out the pending action for the shopper's message
// messageID: the first Take of a message gets it, a Take again for the
// same message (a retried turn) gets the same one, and a Take for any
// other message removes it and finds nothing. An expired action is never
// found.
type ActionStore interface {
	PutAction(ctx context.Context, a PendingAction) (PendingAction, error)
	TakeAction(ctx context.Context, conversationID, messageID string) (PendingAction, bool, error)
}

// ActionOutcome is what the order system said of an action.
type ActionOutcome struct {
	Done      bool   // taken; false: refused, Message says why
	Reference string // the order system's reference, if any
	Message   string
}

// ActionRunner takes a confirmed action in the shop's order system. It
// must be idempotent on the action's ID (the same ID never acts twice); an
// error means the outcome is unknown (the system could not be reached).
type ActionRunner interface {
	RunAction(ctx context.Context, a PendingAction) (ActionOutcome, error)
}

// Verdict is whether an order may undergo an action, and why.
type Verdict struct {
	Eligible bool
	Reason   string // in the shopper's language, naming the dates and the rule
	Rule     string // the rule's id
}

// EligibilityChecker decides whether the order (as "Key: value" lines)
// may undergo an action of kind on day at, explaining in locale.
type EligibilityChecker interface {
	Eligible(ctx context.Context, kind, order, locale string, at time.Time) (Verdict, error)
}

// ActionRef is the action a turn proposed or reported.
type ActionRef struct {
	ID      string `json:"id"`
	OrderID string `json:"order_id"`
	Kind    string `json:"kind"`
	State   string `json:"state"`
	// Reason says why a failed or refused action did not run (not sent to
	// clients).
	Reason string `json:"-"`
}

// WithActions lets the pipeline propose after-sales actions on a signed-in
// shopper's own orders and take them on the shopper's explicit yes in the
// next turn. store keeps the pending actions; rules decides eligibility
// (without it nothing is proposed: kefu does not guess); run takes the
// action in the order system, and without one (nil) a confirmed action is
// handed to an agent on a ticket instead.
func WithActions(store ActionStore, rules EligibilityChecker, run ActionRunner, ttl time.Duration) Option {
	return func(o *options) {
		o.actions = &actionOptions{store: store, rules: rules, run: run, ttl: ttl}
	}
}

type actionOptions struct {
	store ActionStore
	rules EligibilityChecker
	run   ActionRunner
	ttl   time.Duration
}

// Bounds of what a proposal takes from the shopper's words.
const (
	maxActionDetail = 300
	defaultTTL      = 10 * time.Minute
)

// actionCue is one kind's cues, checked in order: the more specific kinds
// first, so that "refund the price difference" is price protection.
type actionCue struct {
	kind string
	re   *regexp.Regexp
}

var actionCues = []actionCue{
	{ActionPriceProtection, regexp.MustCompile(`(?i)price[ -]?(protection|protect|drop|adjust|match|difference)|dropped in price|cheaper now|价保|保价|降价|差价`)},
	{ActionChangeAddress, regexp.MustCompile(`(?i)(change|update|correct|fix|modify|edit)\b[^.?!]{0,30}\baddress|wrong address|deliver (it )?to (a )?(different|new|another) address|(改|修改|更改|更换|换)(一下)?(收货|配送|送货)?地址|地址(写错|填错|错了|改成|改为|改到|换成|换到)`)},
	{ActionExchange, regexp.MustCompile(`(?i)\bexchange\b|\bswap\b|\breplace (it|this|them)\b|换货|换一[个件台双]|换成|调换`)},
	{ActionCancel, regexp.MustCompile(`(?i)\bcancel\b|取消(订单|这个订单|这单|该订单|吧|掉)?|不想要了|不要了`)},
	{ActionReturn, regexp.MustCompile(`(?i)\breturn\b|send (it|this|them) back|\brefund\b|money back|退货|退掉|退回|退款|退了`)},
}

// policyOnly marks a question about the rule rather than an order
// ("what is your return policy?").
var policyOnly = regexp.MustCompile(`(?i)\bpolic(y|ies)\b|政策|规则|规定`)

// actionKind returns the after-sales action a message asks for on an
// order, "" for none.
func actionKind(msg string) string {
	for _, c := range actionCues {
		if c.re.MatchString(msg) {
			return c.kind
		}
	}
	return ""
}

// yesWords and noWords are whole replies (after folding, lower-casing and
// dropping punctuation and spaces) that confirm or decline a proposal.
// Only an explicit yes confirms; anything else, a no included, cancels.
var yesWords = setOf("yes", "y", "yeah", "yep", "yup", "yes please", "yesplease", "please do", "pleasedo", "confirm", "confirmed",
	"i confirm", "iconfirm", "yes confirm", "yesconfirm", "go ahead", "goahead", "yes go ahead", "yesgoahead", "do it", "doit",
	"yes do it", "yesdoit", "ok", "okay", "ok do it", "okdoit", "sure", "proceed", "yes proceed", "yesproceed", "correct",
	"是", "是的", "好", "好的", "可以", "确认", "确定", "对", "对的", "嗯", "嗯嗯", "行", "没问题", "同意", "是的确认", "确认办理", "好的确认",
	"确认取消", "确认退货", "确认换货", "确认修改", "确认申请", "好的谢谢", "yes thanks", "yesthanks", "yes thank you", "yesthankyou")

var noWords = setOf("no", "n", "nope", "no thanks", "nothanks", "no thank you", "nothankyou", "dont", "do not", "donot", "stop",
	"never mind", "nevermind", "not now", "notnow", "wait", "leave it", "leaveit", "no dont", "nodont",
	"不", "不要", "不用", "不用了", "算了", "不了", "先不", "先不用", "否", "不是", "别", "等等", "不需要", "暂时不用")

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// replyWord folds a short reply to the form the word lists hold: case and
// width folded, punctuation, symbols and emoji dropped, spaces collapsed.
func replyWord(msg string) string {
	if len(msg) > 64 {
		return ""
	}
	f := strings.ToLower(guard.Fold(msg))
	var b strings.Builder
	space := false
	for _, r := range f {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		case r == '\'' || r == '’':
			// "don't" reads as "dont"
		default:
			space = true
		}
	}
	return b.String()
}

// Confirms reports whether msg is an explicit yes to a proposal, in
// English or Chinese; Declines whether it is an explicit no.
func Confirms(msg string) bool { return yesWords[replyWord(msg)] }

// Declines reports whether msg is an explicit no to a proposal.
func Declines(msg string) bool { return noWords[replyWord(msg)] }

// settlePending takes the conversation's pending action, if any, and
// decides it: run on an explicit yes from its own shopper in the turn
// right after it was proposed, cancelled otherwise. handled is true when
// the turn is answered by that (a yes or a no); otherwise the turn goes on
// and cancelled, when set, reports the dropped proposal.
func (p *Pipeline) settlePending(ctx context.Context, t Turn, u Understanding, meta *Meta) (pl *plan, cancelled *ActionRef, err error) {
	ao := p.opts.actions
	if ao == nil || t.ConversationID == "" {
		return nil, nil, nil
	}
	pending, found, err := ao.store.TakeAction(ctx, t.ConversationID, t.MessageID)
	if err != nil {
		return nil, nil, kefu.WrapError(kefu.EUnavailable, "the conversation store is unavailable", fmt.Errorf("take the pending action: %w", err))
	}
	if !found {
		return nil, nil, nil
	}
	ref := &ActionRef{ID: pending.ID, OrderID: pending.OrderID, Kind: pending.Kind, State: ActionCancelled}
	// The yes must come from the same shopper, answer the proposal itself
	// (the assistant's last words), and be nothing but a yes.
	own := pending.CustomerID != "" && pending.CustomerID == t.CustomerID
	if !own {
		return nil, nil, nil
	}
	if !u.Injection && Confirms(t.Message) && lastAnswerIs(t.asked, pending.Summary) {
		pl, err := p.runPending(ctx, t, u, meta, pending)
		return pl, nil, err
	}
	if !u.Injection && Declines(t.Message) {
		pl, err := p.fixed(DecideAnswer, u.Locale, "action_declined", replyData{OrderID: pending.OrderID, Kind: pending.Kind})
		if err != nil {
			return nil, nil, err
		}
		pl.action = ref
		meta.Intent = intentOfAction(pending.Kind)
		return pl, nil, nil
	}
	return nil, ref, nil
}

// lastAnswerIs reports whether the last assistant message of history
// holds summary: the proposal was the turn just before.
func lastAnswerIs(history []kefu.Message, summary string) bool {
	for i := len(history) - 1; i >= 0; i-- {
		if history[i].Role == kefu.RoleAssistant {
			return summary != "" && strings.Contains(history[i].Content, summary)
		}
		if history[i].Role == kefu.RoleAgent {
			return false
		}
	}
	return false
}

// ruleName is the rules' name of an action kind, as the reply's
// eligibility names it.
// actionHandoff is the reply that hands a confirmed action to a person:
// the fixed reply name, with ref as it ended and the escalation reason.
func (p *Pipeline) actionHandoff(locale, name, reason string, ref *ActionRef, d replyData, meta *Meta) (*plan, error) {
	pl, err := p.fixed(DecideEscalate, locale, name, d)
	if err != nil {
		return nil, err
	}
	pl.action, pl.escalation = ref, &Escalation{Reason: reason}
	meta.Reason = reason
	return pl, nil
}

func ruleName(kind string) string {
	if kind == ActionChangeAddress {
		return "modify_address"
	}
	return kind
}

func intentOfAction(kind string) string {
	switch kind {
	case ActionCancel, ActionChangeAddress:
		return IntentOrderStatus
	case ActionPriceProtection:
		return IntentPayment
	}
	return IntentReturn
}

// runPending takes a confirmed action: the order is read again (live
// first) and checked again, then the action goes to the order system, or
// to an agent when none takes actions.
func (p *Pipeline) runPending(ctx context.Context, t Turn, u Understanding, meta *Meta, a PendingAction) (*plan, error) {
	ao := p.opts.actions
	locale := u.Locale
	if a.Locale != "" && (locale == "" || len([]rune(t.Message)) < 8) {
		locale = a.Locale // a bare "yes" says little of its language
	}
	meta.Locale, meta.Intent = locale, intentOfAction(a.Kind)
	ref := &ActionRef{ID: a.ID, OrderID: a.OrderID, Kind: a.Kind}
	d := replyData{OrderID: a.OrderID, Kind: a.Kind}
	book := bookFrom(ctx, p, t.CustomerID, []string{a.OrderID})
	h, found, err := book.find(ctx, a.OrderID)
	if err != nil {
		return nil, err
	}
	if !found {
		ref.State, ref.Reason = ActionFailed, "order not found"
		name := "order_not_found"
		if book.unavailable() {
			name, ref.Reason = "orders_unavailable", "order system unavailable"
		}
		pl, err := p.fixed(DecideAnswer, locale, name, d)
		if pl != nil {
			pl.action = ref
		}
		return pl, err
	}
	v, err := ao.rules.Eligible(ctx, a.Kind, h.Chunk.Text, locale, p.opts.now())
	if err != nil {
		return nil, fmt.Errorf("check eligibility of %s for order %s: %w", a.Kind, a.OrderID, err)
	}
	meta.Eligibility = &Eligibility{OrderID: a.OrderID, Action: ruleName(a.Kind), Eligible: v.Eligible, Reason: v.Reason, Rule: v.Rule}
	if !v.Eligible {
		ref.State, ref.Reason = ActionFailed, "no longer eligible"
		d.Reason = v.Reason
		pl, err := p.fixed(DecideAnswer, locale, "action_ineligible", d)
		if pl != nil {
			pl.action = ref
		}
		return pl, err
	}
	if ao.run == nil {
		ref.State = ActionHandedOver
		d.Summary = a.Summary
		return p.actionHandoff(locale, "action_handed_over", "action_requested", ref, d, meta)
	}
	out, err := ao.run.RunAction(ctx, a)
	switch {
	case err != nil:
		ref.State, ref.Reason = ActionFailed, "order system unavailable"
		return p.actionHandoff(locale, "action_unknown", "action_failed", ref, d, meta)
	case !out.Done:
		ref.State, ref.Reason = ActionFailed, out.Message
		d.Reason = out.Message
		return p.actionHandoff(locale, "action_refused", "action_failed", ref, d, meta)
	}
	ref.State = ActionDone
	d.Reference = out.Reference
	pl, err := p.fixed(DecideAnswer, locale, "action_done", d)
	if err != nil {
		return nil, err
	}
	pl.action = ref
	return pl, nil
}

// proposeAction answers a signed-in shopper's request for an after-sales
// action on one of their orders: the order is found (live first), its
// eligibility computed, and an eligible action described exactly and
// stored, awaiting the shopper's yes. ok is false when the message asks
// for no action kefu can take (the turn goes on as usual).
func (p *Pipeline) proposeAction(ctx context.Context, t Turn, u Understanding, meta *Meta) (*plan, bool, error) {
	ao := p.opts.actions
	if ao == nil || ao.rules == nil || u.Injection {
		return nil, false, nil
	}
	kind := actionKind(t.Message)
	if kind == "" || (len(u.OrderRefs) == 0 && !u.MyOrders) || (len(u.OrderRefs) == 0 && policyOnly.MatchString(t.Message)) {
		return nil, false, nil
	}
	if asked := askedAction(u.normalized); asked != "" && string(asked) != ruleName(kind) {
		// The shop's rules name what is asked more closely than the
		// actions kefu takes ("a refund for W…" is the refund rule, not
		// a return): the rules decide it and nothing is proposed.
		return nil, false, nil
	}
	meta.Intent = intentOfAction(kind)
	if t.CustomerID == "" {
		pl, err := p.fixed(DecideClarify, u.Locale, "sign_in", replyData{})
		return pl, true, err
	}
	book := bookFrom(ctx, p, t.CustomerID, u.OrderRefs)
	var order kefu.Hit
	if len(u.OrderRefs) > 0 {
		h, found, err := book.find(ctx, u.OrderRefs[0])
		if err != nil {
			return nil, true, err
		}
		if !found {
			name := "order_not_found"
			if book.unavailable() {
				name = "orders_unavailable"
			}
			pl, err := p.fixed(DecideAnswer, u.Locale, name, replyData{OrderID: u.OrderRefs[0]})
			return pl, true, err
		}
		order = h
	} else {
		hits, err := book.load(ctx)
		if err != nil {
			return nil, true, err
		}
		chosen := matchOrders(hits, u.Query)
		switch {
		case len(hits) == 0:
			name := "no_orders"
			if book.unavailable() {
				name = "orders_unavailable"
			}
			pl, err := p.fixed(DecideAnswer, u.Locale, name, replyData{})
			return pl, true, err
		case len(chosen) != 1 && len(hits) != 1:
			pl, err := p.orders(ctx, t, u, meta, 0)
			if err != nil {
				return nil, true, err
			}
			ask, err := p.reply(u.Locale, "action_which_order", replyData{Kind: kind})
			if err != nil {
				return nil, true, err
			}
			pl.decision, pl.text = DecideClarify, ask+"\n"+pl.text
			return pl, true, nil
		case len(chosen) == 1:
			order = chosen[0]
		default:
			order = hits[0]
		}
	}
	id := recordValue(order.Chunk.Text, orderIDKeys)
	if id == "" {
		if len(u.OrderRefs) > 0 {
			id = u.OrderRefs[0]
		} else {
			id = strings.TrimPrefix(order.Chunk.Title, "Order ")
		}
	}
	return p.propose(ctx, t, u.Locale, meta, kind, id, order, actionDetails(kind, t.Message))
}

// propose checks and stores one action on the shopper's order (already
// found for them) and plans the reply that describes it.
func (p *Pipeline) propose(ctx context.Context, t Turn, locale string, meta *Meta, kind, orderID string, order kefu.Hit, details map[string]string) (*plan, bool, error) {
	ao := p.opts.actions
	d := replyData{OrderID: orderID, Kind: kind}
	v, err := ao.rules.Eligible(ctx, kind, order.Chunk.Text, locale, p.opts.now())
	if err != nil {
		return nil, true, fmt.Errorf("check eligibility of %s for order %s: %w", kind, orderID, err)
	}
	d.Reason = v.Reason
	meta.Eligibility = &Eligibility{OrderID: orderID, Action: ruleName(kind), Eligible: v.Eligible, Reason: v.Reason, Rule: v.Rule}
	if !v.Eligible {
		pl, err := p.fixed(DecideAnswer, locale, "action_ineligible", d)
		if err != nil {
			return nil, true, err
		}
		pl.context = []kefu.Hit{order}
		pl.action = &ActionRef{OrderID: orderID, Kind: kind, State: ActionFailed, Reason: "ineligible"}
		meta.Reason = "action_ineligible"
		return pl, true, nil
	}
	if kind == ActionChangeAddress && details["new_address"] == "" {
		pl, err := p.fixed(DecideClarify, locale, "action_need_address", d)
		return pl, true, err
	}
	d.Items = clipRunes(orderItems(order.Chunk.Text), maxActionDetail)
	d.NewAddress = details["new_address"]
	d.Request = details["request"]
	summary, err := p.reply(locale, "action_summary", d)
	if err != nil {
		return nil, true, err
	}
	ttl := ao.ttl
	if ttl <= 0 {
		ttl = defaultTTL
	}
	stored, err := ao.store.PutAction(ctx, PendingAction{
		ConversationID: t.ConversationID, CustomerID: t.CustomerID, Kind: kind, OrderID: orderID,
		Details: details, Summary: summary, Locale: locale, ExpiresAt: p.opts.now().Add(ttl),
	})
	if err != nil {
		return nil, true, kefu.WrapError(kefu.EUnavailable, "the conversation store is unavailable", fmt.Errorf("store the proposed action: %w", err))
	}
	ask, err := p.reply(locale, "action_confirm", d)
	if err != nil {
		return nil, true, err
	}
	text := summary + "\n" + ask
	if v.Reason != "" {
		text = v.Reason + "\n\n" + text
	}
	return &plan{decision: DecideAnswer, text: text, context: []kefu.Hit{order},
		action: &ActionRef{ID: stored.ID, OrderID: orderID, Kind: kind, State: ActionProposed}}, true, nil
}

// addressAfter finds the new address a shopper gives ("... to 88 Binjiang
// Rd", "改成杭州市…").
var addressAfter = regexp.MustCompile(`(?i)(?:\bto\b|改为|改成|改到|换成|换到|新地址[是为:：]?)\s*[:：]?\s*(.+)$`)

// actionDetails are what a proposal takes from the shopper's words: the
// new address for a change of address, and for the others the request as
// written (bounded), for the shop's staff.
func actionDetails(kind, msg string) map[string]string {
	msg = strings.TrimSpace(msg)
	if kind == ActionChangeAddress {
		if m := addressAfter.FindStringSubmatch(msg); m != nil {
			addr := strings.TrimRight(strings.TrimSpace(m[1]), "。.!！")
			// "change the address of W1 to ..." may match "to" early: keep
			// the part after an order number when there is one.
			if orderRef.MatchString(addr) {
				addr = ""
			}
			if addr != "" {
				return map[string]string{"new_address": clipRunes(addr, maxActionDetail)}
			}
		}
		return map[string]string{}
	}
	return map[string]string{"request": clipRunes(msg, maxActionDetail)}
}

var orderRef = regexp.MustCompile(`\b[A-Z]{1,3}\d{4,}(-\d+)?\b`)

func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// orderItems is the order's items line, as orderSummary writes it.
func orderItems(text string) string {
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		key, value, ok := strings.Cut(line, ":")
		if !ok || normKey(key) != "items" {
			continue
		}
		items := []string{}
		if v := strings.TrimSpace(value); v != "" {
			items = append(items, v)
		}
		for _, l := range lines[i+1:] {
			l = strings.TrimSpace(l)
			if !strings.HasPrefix(l, "- ") && !strings.HasPrefix(l, "* ") {
				break
			}
			items = append(items, strings.TrimSpace(l[2:]))
		}
		return strings.Join(items, ", ")
	}
	return ""
}
