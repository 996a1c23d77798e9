package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
)

func TestProposalIsTakenOnceByTheNextMessage(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	conv, _, err := s.StartConversation(ctx, "C1", "web", Message{Role: kefu.RoleUser, Content: "return W1"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.PutProposal(ctx, Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "return", OrderID: "W1", Summary: "start a return for W1"})
	if err != nil || p.ID == "" || !p.ExpiresAt.After(p.CreatedAt) {
		t.Fatalf("put: %+v %v", p, err)
	}
	got, ok, err := s.TakeProposal(ctx, conv.ID, "m_yes")
	if err != nil || !ok || got.ID != p.ID || got.OrderID != "W1" {
		t.Fatalf("take: %+v %v %v", got, ok, err)
	}
	// A retry of the same message gets the same proposal; another message
	// gets nothing and removes it.
	if again, ok, _ := s.TakeProposal(ctx, conv.ID, "m_yes"); !ok || again.ID != p.ID {
		t.Errorf("retry of the same message: %v", ok)
	}
	if _, ok, _ := s.TakeProposal(ctx, conv.ID, "m_other"); ok {
		t.Error("a second message took the proposal")
	}
	if _, ok, _ := s.TakeProposal(ctx, conv.ID, "m_yes"); ok {
		t.Error("the proposal outlived the message that moved on")
	}
}

func TestProposalRules(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	conv, _, _ := s.StartConversation(ctx, "C1", "web", Message{Role: kefu.RoleUser, Content: "hi"})
	anon, _, _ := s.StartConversation(ctx, "", "web", Message{Role: kefu.RoleUser, Content: "hi"})
	for name, p := range map[string]Proposal{
		"another shopper's conversation": {ConversationID: conv.ID, CustomerID: "C2", Kind: "return", OrderID: "W1"},
		"anonymous":                      {ConversationID: anon.ID, CustomerID: "", Kind: "return", OrderID: "W1"},
		"no order":                       {ConversationID: conv.ID, CustomerID: "C1", Kind: "return"},
		"unknown conversation":           {ConversationID: "c_nope", CustomerID: "C1", Kind: "return", OrderID: "W1"},
		"huge detail":                    {ConversationID: conv.ID, CustomerID: "C1", Kind: "return", OrderID: "W1", Details: map[string]string{"request": strings.Repeat("x", 3000)}},
	} {
		if _, err := s.PutProposal(ctx, p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// An expired proposal is not found.
	past := time.Now().Add(-time.Hour)
	if _, err := s.PutProposal(ctx, Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "return", OrderID: "W1",
		CreatedAt: past, ExpiresAt: past.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.TakeProposal(ctx, conv.ID, "m1"); ok {
		t.Error("an expired proposal was taken")
	}
	// The shopper's export holds their pending proposal; erasing the
	// shopper removes it.
	if _, err := s.PutProposal(ctx, Proposal{ConversationID: conv.ID, CustomerID: "C1", Kind: "return", OrderID: "W1"}); err != nil {
		t.Fatal(err)
	}
	exp, err := s.ExportCustomer(ctx, "C1")
	if err != nil || len(exp.Conversations) != 1 || exp.Conversations[0].PendingAction == nil || exp.Conversations[0].PendingAction.OrderID != "W1" {
		t.Fatalf("export %+v %v", exp.Conversations, err)
	}
	if _, err := s.EraseCustomer(ctx, "C1", AuditRecord{Actor: "test", Role: "admin", Action: "customer.erase"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.TakeProposal(ctx, conv.ID, "m2"); ok {
		t.Error("a proposal survived the shopper's erasure")
	}
}

func openTest(t *testing.T) *Bolt {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
