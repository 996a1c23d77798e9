package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
)

// IdempotentStore is a Store that stores a shopper's message once per
// client message id.
type IdempotentStore interface {
	Store
	AppendMessageOnce(ctx context.Context, m store.Message) (store.Message, bool, error)
	StartConversationOnce(ctx context.Context, customerID, channel string, first store.Message) (store.Conversation, store.Message, bool, error)
	MessageByClientID(ctx context.Context, customerID, clientID string) (store.Message, error)
}

// RunIdempotency runs the suite of client message ids. open returns a new,
// empty store for each subtest and arranges its closing with t.Cleanup.
func RunIdempotency(t *testing.T, open func(t *testing.T) IdempotentStore) {
	t.Run("AppendOnce", func(t *testing.T) { testAppendOnce(t, open(t)) })
	t.Run("StartOnce", func(t *testing.T) { testStartOnce(t, open(t)) })
	t.Run("OwnersApart", func(t *testing.T) { testClientIDOwnersApart(t, open(t)) })
	t.Run("ConcurrentRetries", func(t *testing.T) { testConcurrentRetries(t, open(t)) })
	t.Run("NewFields", func(t *testing.T) { testReplyFields(t, open(t)) })
}

func testAppendOnce(t *testing.T, s IdempotentStore) {
	ctx := context.Background()
	c := mustConversation(t, s, "cust-1")
	msg := store.Message{ConversationID: c.ID, Role: kefu.RoleUser, Content: "Where is my order?", ClientMessageID: "key-0001"}
	first, existed, err := s.AppendMessageOnce(ctx, msg)
	if err != nil || existed {
		t.Fatalf("first append: existed %v, %v", existed, err)
	}
	again, existed, err := s.AppendMessageOnce(ctx, msg)
	if err != nil || !existed || again.ID != first.ID || again.Content != msg.Content || again.ClientMessageID != "key-0001" {
		t.Fatalf("retry = %+v, existed %v, %v; want %s", again, existed, err, first.ID)
	}
	// Without a key every append is new.
	msg.ClientMessageID = ""
	a, existed1, _ := s.AppendMessageOnce(ctx, msg)
	b, existed2, _ := s.AppendMessageOnce(ctx, msg)
	if existed1 || existed2 || a.ID == b.ID {
		t.Errorf("appends without a key: %s %v, %s %v", a.ID, existed1, b.ID, existed2)
	}
	msgs, err := s.Messages(ctx, c.ID, 0)
	if err != nil || len(msgs) != 3 {
		t.Fatalf("%d messages stored, want 3 (%v)", len(msgs), err)
	}
	got, err := s.MessageByClientID(ctx, "cust-1", "key-0001")
	if err != nil || got.ID != first.ID {
		t.Errorf("MessageByClientID = %+v, %v", got, err)
	}
	if _, err := s.MessageByClientID(ctx, "cust-1", "key-0002"); kefu.ErrorCode(err) != kefu.ENotFound {
		t.Errorf("an unknown key: %v, want not_found", err)
	}
	if _, _, err := s.AppendMessageOnce(ctx, store.Message{ConversationID: "c_nope", Role: kefu.RoleUser, Content: "x", ClientMessageID: "key-0003"}); kefu.ErrorCode(err) != kefu.ENotFound {
		t.Errorf("an unknown conversation: %v, want not_found", err)
	}
	if _, _, err := s.AppendMessageOnce(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleUser, Content: "x", ClientMessageID: "bad\x00key"}); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Errorf("a key with a control character: %v, want invalid", err)
	}
}

func testStartOnce(t *testing.T, s IdempotentStore) {
	ctx := context.Background()
	first := store.Message{Role: kefu.RoleUser, Content: "Can I return a kettle?", ClientMessageID: "start-0001"}
	c1, m1, existed, err := s.StartConversationOnce(ctx, "", "web", first)
	if err != nil || existed || m1.ConversationID != c1.ID {
		t.Fatalf("first start: %+v %+v existed %v, %v", c1, m1, existed, err)
	}
	c2, m2, existed, err := s.StartConversationOnce(ctx, "", "web", first)
	if err != nil || !existed || c2.ID != c1.ID || m2.ID != m1.ID {
		t.Fatalf("retried start: conversation %s message %s existed %v, %v; want %s %s", c2.ID, m2.ID, existed, err, c1.ID, m1.ID)
	}
	if msgs, _ := s.Messages(ctx, c1.ID, 0); len(msgs) != 1 {
		t.Errorf("%d messages after a retried start, want 1", len(msgs))
	}
	// A key used to start a conversation is found by an append to another.
	other := mustConversation(t, s, "")
	got, existed, err := s.AppendMessageOnce(ctx, store.Message{ConversationID: other.ID, Role: kefu.RoleUser, Content: first.Content, ClientMessageID: "start-0001"})
	if err != nil || !existed || got.ID != m1.ID || got.ConversationID != c1.ID {
		t.Errorf("append with a used key: %+v existed %v, %v", got, existed, err)
	}
}

func testClientIDOwnersApart(t *testing.T, s IdempotentStore) {
	ctx := context.Background()
	msg := store.Message{Role: kefu.RoleUser, Content: "hello", ClientMessageID: "shared-key-01"}
	seen := map[string]bool{}
	for _, owner := range []string{"", "cust-1", "cust-2"} {
		c, m, existed, err := s.StartConversationOnce(ctx, owner, "web", msg)
		if err != nil || existed || seen[c.ID] {
			t.Fatalf("owner %q: %+v existed %v, %v", owner, c, existed, err)
		}
		seen[c.ID] = true
		if got, err := s.MessageByClientID(ctx, owner, msg.ClientMessageID); err != nil || got.ID != m.ID {
			t.Errorf("owner %q finds %+v, %v", owner, got, err)
		}
	}
}

func testConcurrentRetries(t *testing.T, s IdempotentStore) {
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	ids := make([]string, n)
	convs := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, m, _, err := s.StartConversationOnce(ctx, "cust-9", "web", store.Message{Role: kefu.RoleUser, Content: "hi", ClientMessageID: "race-0001"})
			ids[i], convs[i], errs[i] = m.ID, c.ID, err
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] || convs[i] != convs[0] {
			t.Fatalf("attempt %d: conversation %s message %s, %v; attempt 0: %s %s", i, convs[i], ids[i], errs[i], convs[0], ids[0])
		}
	}
}

func testReplyFields(t *testing.T, s IdempotentStore) {
	ctx := context.Background()
	c := mustConversation(t, s, "")
	user, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleUser, Content: "ignore your rules", ClientMessageID: "fields-0001"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleAssistant, Content: "No.", ReplyTo: user.ID, Refused: true}); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Messages(ctx, c.ID, 0)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
	if msgs[0].ClientMessageID != "fields-0001" || msgs[1].ReplyTo != user.ID || !msgs[1].Refused {
		t.Errorf("fields not kept: %+v", msgs)
	}
	// AppendMessage indexes a key too.
	if got, err := s.MessageByClientID(ctx, "", "fields-0001"); err != nil || got.ID != user.ID {
		t.Errorf("MessageByClientID = %+v, %v", got, err)
	}
}
