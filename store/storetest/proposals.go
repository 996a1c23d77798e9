package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
)

// ProposalStore is the behaviour RunProposals checks: the pending
// after-sales action of a conversation, taken once.
type ProposalStore interface {
	StartConversation(ctx context.Context, customerID, channel string, first store.Message) (store.Conversation, store.Message, error)
	PutProposal(ctx context.Context, p store.Proposal) (store.Proposal, error)
	TakeProposal(ctx context.Context, conversationID, messageID string) (store.Proposal, bool, error)
}

// RunProposals runs the proposal suite. open returns a new, empty store
// for each subtest and arranges its closing with t.Cleanup.
func RunProposals(t *testing.T, open func(t *testing.T) ProposalStore) {
	t.Run("TakenOnce", func(t *testing.T) { testProposalTakenOnce(t, open(t)) })
	t.Run("Defaults", func(t *testing.T) { testProposalDefaults(t, open(t)) })
	t.Run("Replace", func(t *testing.T) { testProposalReplace(t, open(t)) })
	t.Run("HandOutWithoutMessage", func(t *testing.T) { testProposalHandOut(t, open(t)) })
	t.Run("Rules", func(t *testing.T) { testProposalRules(t, open(t)) })
	t.Run("Expired", func(t *testing.T) { testProposalExpired(t, open(t)) })
	t.Run("ConcurrentTakes", func(t *testing.T) { testProposalConcurrentTakes(t, open(t)) })
}

func startConversation(t *testing.T, s ProposalStore, customer string) store.Conversation {
	t.Helper()
	c, _, err := s.StartConversation(context.Background(), customer, "web", store.Message{Role: kefu.RoleUser, Content: "return W1"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustPropose(t *testing.T, s ProposalStore, p store.Proposal) store.Proposal {
	t.Helper()
	got, err := s.PutProposal(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func testProposalTakenOnce(t *testing.T, s ProposalStore) {
	ctx := context.Background()
	conv := startConversation(t, s, "C1")
	p := mustPropose(t, s, store.Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "return", OrderID: "W1",
		Details: map[string]string{"reason": "too small", "items": "sku-1"}, Summary: "start a return for W1", Locale: "en"})
	if p.ID == "" || !p.ExpiresAt.After(p.CreatedAt) {
		t.Fatalf("put: %+v", p)
	}
	got, ok, err := s.TakeProposal(ctx, conv.ID, "m_yes")
	if err != nil || !ok {
		t.Fatalf("take: %+v %v %v", got, ok, err)
	}
	if got.ID != p.ID || got.ConversationID != conv.ID || got.CustomerID != "C1" || got.Kind != "return" || got.OrderID != "W1" ||
		got.Summary != p.Summary || got.Locale != "en" || len(got.Details) != 2 || got.Details["reason"] != "too small" ||
		!got.CreatedAt.Equal(p.CreatedAt) || !got.ExpiresAt.Equal(p.ExpiresAt) || got.TakenBy != "m_yes" {
		t.Errorf("taken = %+v\nput   = %+v", got, p)
	}
	// A retry of the same message gets the same proposal; another message
	// gets nothing and removes it.
	if again, ok, err := s.TakeProposal(ctx, conv.ID, "m_yes"); err != nil || !ok || again.ID != p.ID || again.TakenBy != "m_yes" {
		t.Errorf("retry of the same message: %+v %v %v", again, ok, err)
	}
	if _, ok, err := s.TakeProposal(ctx, conv.ID, "m_other"); err != nil || ok {
		t.Errorf("a second message took the proposal: %v %v", ok, err)
	}
	if _, ok, err := s.TakeProposal(ctx, conv.ID, "m_yes"); err != nil || ok {
		t.Errorf("the proposal outlived the message that moved on: %v %v", ok, err)
	}
	// A conversation without one has nothing to take.
	other := startConversation(t, s, "C1")
	if _, ok, err := s.TakeProposal(ctx, other.ID, "m_yes"); err != nil || ok {
		t.Errorf("another conversation's take: %v %v", ok, err)
	}
}

func testProposalDefaults(t *testing.T, s ProposalStore) {
	conv := startConversation(t, s, "C1")
	p := mustPropose(t, s, store.Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "cancel", OrderID: "W2"})
	if !strings.HasPrefix(p.ID, "a_") || p.CreatedAt.IsZero() || !p.ExpiresAt.Equal(p.CreatedAt.Add(store.DefaultProposalTTL)) || p.TakenBy != "" {
		t.Errorf("defaults: %+v", p)
	}
	at := time.Now().UTC().Truncate(time.Second)
	p = mustPropose(t, s, store.Proposal{ID: "a_GIVEN", ConversationID: conv.ID, CustomerID: "C1", Kind: "cancel", OrderID: "W2",
		CreatedAt: at, ExpiresAt: at.Add(72 * time.Hour)})
	if p.ID != "a_GIVEN" || !p.CreatedAt.Equal(at) || !p.ExpiresAt.Equal(at.Add(24*time.Hour)) {
		t.Errorf("given id and a TTL over a day: %+v", p)
	}
	got, ok, err := s.TakeProposal(context.Background(), conv.ID, "m1")
	if err != nil || !ok || got.ID != "a_GIVEN" || !got.ExpiresAt.Equal(p.ExpiresAt) {
		t.Errorf("take = %+v %v %v", got, ok, err)
	}
}

func testProposalReplace(t *testing.T, s ProposalStore) {
	ctx := context.Background()
	conv := startConversation(t, s, "C1")
	mustPropose(t, s, store.Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "return", OrderID: "W1"})
	second := mustPropose(t, s, store.Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "cancel", OrderID: "W9"})
	got, ok, err := s.TakeProposal(ctx, conv.ID, "m1")
	if err != nil || !ok || got.ID != second.ID || got.OrderID != "W9" {
		t.Fatalf("take after a replacement = %+v %v %v", got, ok, err)
	}
	// A new proposal replaces one already taken, and is not taken.
	third := mustPropose(t, s, store.Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "exchange", OrderID: "W3"})
	got, ok, err = s.TakeProposal(ctx, conv.ID, "m2")
	if err != nil || !ok || got.ID != third.ID || got.TakenBy != "m2" {
		t.Errorf("take of a proposal put over a taken one = %+v %v %v", got, ok, err)
	}
}

func testProposalHandOut(t *testing.T, s ProposalStore) {
	ctx := context.Background()
	conv := startConversation(t, s, "C1")
	p := mustPropose(t, s, store.Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "return", OrderID: "W1"})
	got, ok, err := s.TakeProposal(ctx, conv.ID, "")
	if err != nil || !ok || got.ID != p.ID || got.TakenBy != "" {
		t.Fatalf("take without a message = %+v %v %v", got, ok, err)
	}
	if _, ok, err := s.TakeProposal(ctx, conv.ID, ""); err != nil || ok {
		t.Errorf("handed out twice: %v %v", ok, err)
	}
	// Taken by a message, it is no longer anyone's to take without one.
	mustPropose(t, s, store.Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "return", OrderID: "W1"})
	if _, ok, _ := s.TakeProposal(ctx, conv.ID, "m1"); !ok {
		t.Fatal("take by m1 found nothing")
	}
	if _, ok, err := s.TakeProposal(ctx, conv.ID, ""); err != nil || ok {
		t.Errorf("a taken proposal was handed out again: %v %v", ok, err)
	}
}

func testProposalRules(t *testing.T, s ProposalStore) {
	ctx := context.Background()
	conv := startConversation(t, s, "C1")
	anon := startConversation(t, s, "")
	many := map[string]string{}
	for i := range 9 {
		many[fmt.Sprint("k", i)] = "v"
	}
	tests := []struct {
		name string
		p    store.Proposal
		code string
	}{
		{"another shopper's conversation", store.Proposal{ConversationID: conv.ID, CustomerID: "C2", Kind: "return", OrderID: "W1"}, kefu.ENotFound},
		{"anonymous", store.Proposal{ConversationID: anon.ID, CustomerID: "", Kind: "return", OrderID: "W1"}, kefu.EInvalid},
		{"no order", store.Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "return"}, kefu.EInvalid},
		{"no kind", store.Proposal{ConversationID: conv.ID, CustomerID: "C1", OrderID: "W1"}, kefu.EInvalid},
		{"no conversation", store.Proposal{CustomerID: "C1", Kind: "return", OrderID: "W1"}, kefu.EInvalid},
		{"unknown conversation", store.Proposal{ConversationID: "c_nope", CustomerID: "C1", Kind: "return", OrderID: "W1"}, kefu.ENotFound},
		{"conversation id with NUL", store.Proposal{ConversationID: "c_\x00", CustomerID: "C1", Kind: "return", OrderID: "W1"}, kefu.ENotFound},
		{"huge detail", store.Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "return", OrderID: "W1", Details: map[string]string{"request": strings.Repeat("x", 3000)}}, kefu.EInvalid},
		{"too many details", store.Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "return", OrderID: "W1", Details: many}, kefu.EInvalid},
		{"summary not UTF-8", store.Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "return", OrderID: "W1", Summary: "\xff"}, kefu.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.PutProposal(ctx, tt.p); kefu.ErrorCode(err) != tt.code {
				t.Errorf("PutProposal error = %v, want %s", err, tt.code)
			}
		})
	}
	if _, ok, err := s.TakeProposal(ctx, conv.ID, "m1"); err != nil || ok {
		t.Errorf("a refused proposal was stored: %v %v", ok, err)
	}
	for _, id := range []string{"", "c_\x00", strings.Repeat("c", 300)} {
		if _, ok, err := s.TakeProposal(ctx, id, "m1"); err != nil || ok {
			t.Errorf("take from conversation %q: %v %v", id, ok, err)
		}
	}
	mustPropose(t, s, store.Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "return", OrderID: "W1"})
	if _, ok, err := s.TakeProposal(ctx, conv.ID, strings.Repeat("m", 300)); err != nil || ok {
		t.Errorf("take by a huge message id: %v %v", ok, err)
	}
	if _, ok, err := s.TakeProposal(ctx, conv.ID, "m1"); err != nil || !ok {
		t.Errorf("a take by a huge message id removed the proposal: %v %v", ok, err)
	}
}

func testProposalExpired(t *testing.T, s ProposalStore) {
	ctx := context.Background()
	conv := startConversation(t, s, "C1")
	past := time.Now().Add(-time.Hour)
	mustPropose(t, s, store.Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "return", OrderID: "W1",
		CreatedAt: past, ExpiresAt: past.Add(time.Minute)})
	if _, ok, err := s.TakeProposal(ctx, conv.ID, "m1"); err != nil || ok {
		t.Errorf("an expired proposal was taken: %v %v", ok, err)
	}
	if _, ok, err := s.TakeProposal(ctx, conv.ID, ""); err != nil || ok {
		t.Errorf("an expired proposal was handed out: %v %v", ok, err)
	}
}

// testProposalConcurrentTakes races takes, as replicas answering the
// same shopper twice would: of different messages exactly one gets the
// proposal; every retry of the one message gets it.
func testProposalConcurrentTakes(t *testing.T, s ProposalStore) {
	ctx := context.Background()
	conv := startConversation(t, s, "C1")
	const racers = 8
	for round := range 3 {
		p := mustPropose(t, s, store.Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "return", OrderID: "W1"})
		var wg sync.WaitGroup
		var won atomic.Int32
		errs := make(chan error, racers)
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msg := fmt.Sprint("m_", round, "_", i)
				if round == 2 {
					msg = "" // handed out without a message: once
				}
				got, ok, err := s.TakeProposal(ctx, conv.ID, msg)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					won.Add(1)
					if got.ID != p.ID {
						errs <- fmt.Errorf("took %s, want %s", got.ID, p.ID)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := won.Load(); n != 1 {
			t.Errorf("round %d: %d takes got the proposal, want 1", round, n)
		}
	}
	p := mustPropose(t, s, store.Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "return", OrderID: "W1"})
	var wg sync.WaitGroup
	var won atomic.Int32
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, ok, err := s.TakeProposal(ctx, conv.ID, "m_retried"); err == nil && ok && got.ID == p.ID {
				won.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := won.Load(); n != racers {
		t.Errorf("%d of %d retries of one message got the proposal", n, racers)
	}
}
