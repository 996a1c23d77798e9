package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kefuhq/kefu/orders"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/rules"
	"github.com/kefuhq/kefu/store"
)

// actionStore keeps the pipeline's pending actions in the conversation
// store, sealed with the conversation.
type actionStore struct{ s conversationStore }

var _ rag.ActionStore = actionStore{}

func (a actionStore) PutAction(ctx context.Context, p rag.PendingAction) (rag.PendingAction, error) {
	stored, err := a.s.PutProposal(ctx, store.Proposal{
		ID: p.ID, ConversationID: p.ConversationID, CustomerID: p.CustomerID, Kind: p.Kind, OrderID: p.OrderID,
		Details: p.Details, Summary: p.Summary, Locale: p.Locale, ExpiresAt: p.ExpiresAt,
	})
	if err != nil {
		return rag.PendingAction{}, err
	}
	p.ID, p.ExpiresAt = stored.ID, stored.ExpiresAt
	return p, nil
}

func (a actionStore) TakeAction(ctx context.Context, conversationID, messageID string) (rag.PendingAction, bool, error) {
	p, ok, err := a.s.TakeProposal(ctx, conversationID, messageID)
	if err != nil || !ok {
		return rag.PendingAction{}, false, err
	}
	return rag.PendingAction{ID: p.ID, ConversationID: p.ConversationID, CustomerID: p.CustomerID, Kind: p.Kind,
		OrderID: p.OrderID, Details: p.Details, Summary: p.Summary, Locale: p.Locale, ExpiresAt: p.ExpiresAt}, true, nil
}

// auditLog is where actions are recorded.
type auditLog interface {
	AppendAudit(ctx context.Context, r store.AuditRecord) error
}

// actionRunner takes confirmed actions through the shop's order system
// and records each in the audit log: that it was asked for, then how it
// ended. The audit records name the shopper only as store.CustomerRef and
// hold no words of theirs or the order system's.
type actionRunner struct {
	orders *orders.Client
	audit  auditLog
}

var _ rag.ActionRunner = actionRunner{}

// auditTimeout bounds writing one audit record of an action, which is
// written even when the shopper has gone.
const auditTimeout = 5 * time.Second

func (r actionRunner) RunAction(ctx context.Context, a rag.PendingAction) (rag.ActionOutcome, error) {
	detail := fmt.Sprintf("kind=%s action=%s", a.Kind, a.ID)
	if err := r.record(ctx, a, "order.action.requested", detail); err != nil {
		// An action that cannot be recorded is not taken.
		return rag.ActionOutcome{}, fmt.Errorf("record the action: %w", err)
	}
	out, err := r.orders.Do(ctx, orders.Action{ID: a.ID, Kind: a.Kind, OrderID: a.OrderID, CustomerID: a.CustomerID, Details: a.Details})
	switch {
	case err != nil:
		_ = r.record(ctx, a, "order.action.unknown", detail+" outcome=unknown")
		return rag.ActionOutcome{}, err
	case !out.Done:
		_ = r.record(ctx, a, "order.action.failed", detail+" outcome=refused")
	default:
		ref := ""
		if out.Reference != "" {
			ref = " reference=" + out.Reference
		}
		_ = r.record(ctx, a, "order.action.done", detail+" outcome=done"+ref)
	}
	return rag.ActionOutcome{Done: out.Done, Reference: out.Reference, Message: out.Message}, nil
}

func (r actionRunner) record(ctx context.Context, a rag.PendingAction, action, detail string) error {
	if r.audit == nil {
		return errors.New("no audit log")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	return r.audit.AppendAudit(ctx, store.AuditRecord{
		Actor: store.CustomerRef(a.CustomerID), Role: "shopper", Action: action,
		Target: "order:" + a.OrderID, Detail: detail + " conversation=" + a.ConversationID,
	})
}

// actionOptions are the pipeline's after-sales actions over the
// conversation store: proposed when the shop's rules decide eligibility,
// taken through the order system's actions endpoint when one is
// configured, handed to an agent otherwise.
func actionOptions(cfg Config, client *orders.Client, convs conversationStore, rules rag.EligibilityChecker) []rag.Option {
	if convs == nil || rules == nil {
		return nil
	}
	var run rag.ActionRunner
	if client != nil && cfg.Orders.ActionsEndpoint != "" {
		run = actionRunner{orders: client, audit: convs}
	}
	return []rag.Option{rag.WithActions(actionStore{convs}, rules, run, cfg.Actions.ProposalTTL)}
}

// withActions rebuilds the app's pipeline with after-sales actions over
// convs (serve opens the conversation store after the app).
func (a *app) withActions(convs conversationStore, rules rag.EligibilityChecker) {
	extra := actionOptions(a.cfg, a.orders, convs, rules)
	if len(extra) == 0 {
		return
	}
	opts := append(append([]rag.Option(nil), a.ragOpts...), extra...)
	a.pipeline = rag.New(a.store, a.embedder, a.gen, a.prompts, opts...)
}

// rulesChecker decides eligibility with the shop's rules file (package
// rules): the order's facts are read from its "Key: value" lines through
// the file's field mapping, and the decision's reason, conditions, refund
// destination and notes are told to the shopper in their language.
type rulesChecker struct{ book *rules.Book }

var _ rag.EligibilityChecker = rulesChecker{}

// ruleActions maps the pipeline's action kinds to the rules' actions.
var ruleActions = map[string]rules.Action{
	rag.ActionCancel:          rules.Cancel,
	rag.ActionChangeAddress:   rules.ModifyAddress,
	rag.ActionReturn:          rules.Return,
	rag.ActionExchange:        rules.Exchange,
	rag.ActionPriceProtection: rules.PriceProtection,
}

func (r rulesChecker) Eligible(_ context.Context, kind, order, locale string, at time.Time) (rag.Verdict, error) {
	a, ok := ruleActions[kind]
	if !ok {
		return rag.Verdict{}, fmt.Errorf("no rule action for kind %q", kind)
	}
	f, err := r.book.FactsText(order)
	if err != nil {
		return rag.Verdict{}, fmt.Errorf("read the order's facts: %w", err)
	}
	d := r.book.Check(f, a, at)
	return rag.Verdict{Eligible: d.Eligible, Reason: d.Text(locale), Rule: d.Rule}, nil
}

// memActions keeps proposed actions in memory, one per conversation, for
// a process that ends with its turn (kefu ask, eval, the knowledge gate):
// the semantics of rag.ActionStore without a conversation store.
type memActions struct {
	mu      sync.Mutex
	pending map[string]rag.PendingAction // conversation id -> its proposal
	taken   map[string]string            // conversation id -> the message that took it
	n       int
}

func newMemActions() *memActions {
	return &memActions{pending: map[string]rag.PendingAction{}, taken: map[string]string{}}
}

// maxMemActions bounds the proposals held; past it the oldest are dropped.
const maxMemActions = 10_000

func (m *memActions) PutAction(_ context.Context, a rag.PendingAction) (rag.PendingAction, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pending) >= maxMemActions {
		clear(m.pending)
		clear(m.taken)
	}
	m.n++
	if a.ID == "" {
		a.ID = fmt.Sprintf("act-mem-%d", m.n)
	}
	m.pending[a.ConversationID] = a
	delete(m.taken, a.ConversationID)
	return a, nil
}

func (m *memActions) TakeAction(_ context.Context, conversationID, messageID string) (rag.PendingAction, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.pending[conversationID]
	if !ok {
		return rag.PendingAction{}, false, nil
	}
	switch took, done := m.taken[conversationID]; {
	case !done:
		m.taken[conversationID] = messageID
	case done && took == messageID:
	default:
		delete(m.pending, conversationID)
		delete(m.taken, conversationID)
		return rag.PendingAction{}, false, nil
	}
	if time.Now().After(a.ExpiresAt) {
		delete(m.pending, conversationID)
		return rag.PendingAction{}, false, nil
	}
	return a, true, nil
}
