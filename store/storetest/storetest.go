// Package storetest is the conformance suite for conversation stores. Every
// implementation of the store methods runs Run against a fresh, empty
// store, so that they all behave alike: same ordering, same errors.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
)

// Store is the behaviour the suite checks.
type Store interface {
	CreateConversation(ctx context.Context, customerID, channel string) (store.Conversation, error)
	StartConversation(ctx context.Context, customerID, channel string, first store.Message) (store.Conversation, store.Message, error)
	Conversation(ctx context.Context, id string) (store.Conversation, error)
	AppendMessage(ctx context.Context, m store.Message) (store.Message, error)
	Message(ctx context.Context, id string) (store.Message, error)
	Messages(ctx context.Context, conversationID string, limit int) ([]store.Message, error)
	Ping(ctx context.Context) error
}

// Run runs the suite. open returns a new, empty store for each subtest and
// arranges its closing with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) Store) {
	t.Run("ConversationRoundTrip", func(t *testing.T) { testConversationRoundTrip(t, open(t)) })
	t.Run("MessageRoundTrip", func(t *testing.T) { testMessageRoundTrip(t, open(t)) })
	t.Run("Ordering", func(t *testing.T) { testOrdering(t, open(t)) })
	t.Run("ConversationsApart", func(t *testing.T) { testConversationsApart(t, open(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, open(t)) })
	t.Run("InvalidMessage", func(t *testing.T) { testInvalidMessage(t, open(t)) })
	t.Run("StartConversation", func(t *testing.T) { testStartConversation(t, open(t)) })
	t.Run("ConcurrentWrites", func(t *testing.T) { testConcurrentWrites(t, open(t)) })
	t.Run("Ping", func(t *testing.T) {
		if err := open(t).Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func testConversationRoundTrip(t *testing.T, s Store) {
	ctx := context.Background()
	for _, customer := range []string{"", "cust-1"} {
		c, err := s.CreateConversation(ctx, customer, "web")
		if err != nil {
			t.Fatal(err)
		}
		if len(c.ID) < 3 || c.ID[:2] != "c_" {
			t.Errorf("conversation id %q: want prefix c_", c.ID)
		}
		if c.CreatedAt.IsZero() || !c.UpdatedAt.Equal(c.CreatedAt) {
			t.Errorf("times: created %v, updated %v", c.CreatedAt, c.UpdatedAt)
		}
		got, err := s.Conversation(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != c.ID || got.CustomerID != customer || got.Channel != "web" || !got.CreatedAt.Equal(c.CreatedAt) {
			t.Errorf("Conversation = %+v, want %+v", got, c)
		}
	}
	a, _ := s.CreateConversation(ctx, "", "web")
	b, _ := s.CreateConversation(ctx, "", "web")
	if a.ID == b.ID {
		t.Errorf("two conversations share id %q", a.ID)
	}
}

func testMessageRoundTrip(t *testing.T, s Store) {
	ctx := context.Background()
	c := mustConversation(t, s, "cust-1")
	user, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleUser, Content: "Where is my order?"})
	if err != nil {
		t.Fatal(err)
	}
	if len(user.ID) < 3 || user.ID[:2] != "m_" || user.CreatedAt.IsZero() {
		t.Errorf("appended message id %q, time %v", user.ID, user.CreatedAt)
	}
	cites := json.RawMessage(`[{"doc_id":"order-1","title":"Order #1","source":"orders.csv","snippet":"shipped","score":0.5}]`)
	answer, err := s.AppendMessage(ctx, store.Message{
		ID: "ignored", ConversationID: c.ID, Role: kefu.RoleAssistant, Content: "It shipped [1].",
		Intent: "order_status", Decision: "answer", Reason: "no_knowledge", Escalated: true, Citations: cites, Partial: true,
		PromptVersion: "2026-01-01.1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if answer.ID == "ignored" || answer.ID == user.ID {
		t.Errorf("assistant message id %q", answer.ID)
	}
	msgs, err := s.Messages(ctx, c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("got %d messages, want 2", len(msgs))
	}
	got := msgs[1]
	if got.ID != answer.ID || got.ConversationID != c.ID || got.Role != kefu.RoleAssistant || got.Content != "It shipped [1]." ||
		got.Intent != "order_status" || got.Decision != "answer" || got.Reason != "no_knowledge" || !got.Escalated || !got.Partial ||
		got.PromptVersion != "2026-01-01.1" ||
		!got.CreatedAt.Equal(answer.CreatedAt) || !jsonEqual(got.Citations, cites) {
		t.Errorf("message = %+v\nwant %+v", got, answer)
	}
	one, err := s.Message(ctx, user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if one.ID != user.ID || one.Content != user.Content || one.Role != kefu.RoleUser {
		t.Errorf("Message(%q) = %+v", user.ID, one)
	}
	conv, err := s.Conversation(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if conv.UpdatedAt.Before(answer.CreatedAt) {
		t.Errorf("conversation updated at %v, before its last message at %v", conv.UpdatedAt, answer.CreatedAt)
	}
}

func testOrdering(t *testing.T, s Store) {
	ctx := context.Background()
	c := mustConversation(t, s, "")
	const n = 25
	for i := range n {
		role := kefu.RoleUser
		if i%2 == 1 {
			role = kefu.RoleAssistant
		}
		if _, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: role, Content: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		limit      int
		first, len int
	}{
		{0, 0, n},
		{-1, 0, n},
		{1, n - 1, 1},
		{20, n - 20, 20},
		{n, 0, n},
		{n + 10, 0, n},
	}
	for _, tt := range tests {
		msgs, err := s.Messages(ctx, c.ID, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != tt.len {
			t.Fatalf("limit %d: got %d messages, want %d", tt.limit, len(msgs), tt.len)
		}
		for i, m := range msgs {
			if want := fmt.Sprint(tt.first + i); m.Content != want {
				t.Fatalf("limit %d: message %d is %q, want %q", tt.limit, i, m.Content, want)
			}
			if i > 0 && m.CreatedAt.Before(msgs[i-1].CreatedAt) {
				t.Fatalf("limit %d: message %d is older than the one before", tt.limit, i)
			}
		}
	}
	empty := mustConversation(t, s, "")
	msgs, err := s.Messages(ctx, empty.ID, 10)
	if err != nil || len(msgs) != 0 {
		t.Fatalf("empty conversation: %d messages, %v", len(msgs), err)
	}
}

func testConversationsApart(t *testing.T, s Store) {
	ctx := context.Background()
	a := mustConversation(t, s, "a")
	b := mustConversation(t, s, "b")
	for i := range 3 {
		for _, c := range []store.Conversation{a, b} {
			if _, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleUser, Content: c.CustomerID + fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []store.Conversation{a, b} {
		msgs, err := s.Messages(ctx, c.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 3 {
			t.Fatalf("conversation %s: %d messages, want 3", c.CustomerID, len(msgs))
		}
		for i, m := range msgs {
			if want := c.CustomerID + fmt.Sprint(i); m.Content != want || m.ConversationID != c.ID {
				t.Errorf("conversation %s message %d = %q in %s", c.CustomerID, i, m.Content, m.ConversationID)
			}
		}
	}
}

func testNotFound(t *testing.T, s Store) {
	ctx := context.Background()
	mustConversation(t, s, "")
	for _, id := range []string{"", "c_NOSUCHCONVERSATION0000000", "m_X", "x\x00y", string(make([]byte, 300))} {
		if _, err := s.Conversation(ctx, id); kefu.ErrorCode(err) != kefu.ENotFound {
			t.Errorf("Conversation(%q) error = %v, want not_found", id, err)
		}
		if _, err := s.Messages(ctx, id, 10); kefu.ErrorCode(err) != kefu.ENotFound {
			t.Errorf("Messages(%q) error = %v, want not_found", id, err)
		}
		if _, err := s.Message(ctx, id); kefu.ErrorCode(err) != kefu.ENotFound {
			t.Errorf("Message(%q) error = %v, want not_found", id, err)
		}
		_, err := s.AppendMessage(ctx, store.Message{ConversationID: id, Role: kefu.RoleUser, Content: "hi"})
		if kefu.ErrorCode(err) != kefu.ENotFound {
			t.Errorf("AppendMessage to %q error = %v, want not_found", id, err)
		}
	}
}

func testInvalidMessage(t *testing.T, s Store) {
	ctx := context.Background()
	c := mustConversation(t, s, "")
	tests := []store.Message{
		{ConversationID: c.ID, Role: "", Content: "x"},
		{ConversationID: c.ID, Role: "bot", Content: "x"},
		{ConversationID: c.ID, Role: kefu.RoleAssistant, Content: "x", Citations: json.RawMessage(`[{`)},
	}
	for _, m := range tests {
		if _, err := s.AppendMessage(ctx, m); kefu.ErrorCode(err) != kefu.EInvalid {
			t.Errorf("AppendMessage(%+v) error = %v, want invalid", m, err)
		}
	}
	if msgs, _ := s.Messages(ctx, c.ID, 0); len(msgs) != 0 {
		t.Errorf("invalid messages were stored: %+v", msgs)
	}
}

func mustConversation(t *testing.T, s Store, customer string) store.Conversation {
	t.Helper()
	c, err := s.CreateConversation(context.Background(), customer, "web")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

func testStartConversation(t *testing.T, s Store) {
	ctx := context.Background()
	c, m, err := s.StartConversation(ctx, "cust-3", "app", store.Message{Role: kefu.RoleUser, Content: "where is my parcel?"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ID == "" || c.CustomerID != "cust-3" || c.Channel != "app" {
		t.Errorf("conversation = %+v", c)
	}
	if m.ID == "" || m.ConversationID != c.ID || m.CreatedAt.Before(c.CreatedAt) || !c.UpdatedAt.Equal(m.CreatedAt) {
		t.Errorf("message = %+v in conversation %+v", m, c)
	}
	got, err := s.Conversation(ctx, c.ID)
	if err != nil || got.CustomerID != "cust-3" || !got.UpdatedAt.Equal(m.CreatedAt) {
		t.Errorf("Conversation = %+v, %v", got, err)
	}
	msgs, err := s.Messages(ctx, c.ID, 0)
	if err != nil || len(msgs) != 1 || msgs[0].ID != m.ID || msgs[0].Content != "where is my parcel?" {
		t.Errorf("Messages = %+v, %v", msgs, err)
	}
	if _, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleAssistant, Content: "on its way"}); err != nil {
		t.Fatal(err)
	}

	// An invalid first message stores nothing, not even the conversation.
	before, _ := s.Messages(ctx, c.ID, 0)
	_, _, err = s.StartConversation(ctx, "", "web", store.Message{Role: "bot", Content: "x"})
	if kefu.ErrorCode(err) != kefu.EInvalid {
		t.Errorf("StartConversation with role bot: error = %v, want invalid", err)
	}
	if after, _ := s.Messages(ctx, c.ID, 0); len(after) != len(before) {
		t.Errorf("messages changed from %d to %d", len(before), len(after))
	}
}

// testConcurrentWrites writes from many goroutines at once, some of the
// writes failing, as a busy server does: every write that succeeded is
// stored exactly once, every failure is the caller's own.
func testConcurrentWrites(t *testing.T, s Store) {
	ctx := context.Background()
	const writers, each = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	convs := make([]store.Conversation, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := s.StartConversation(ctx, fmt.Sprint("cust-", w), "web", store.Message{Role: kefu.RoleUser, Content: "0"})
			if err != nil {
				errs <- err
				return
			}
			convs[w] = c
			for i := 1; i < each; i++ {
				// A write to a conversation that does not exist fails
				// alone, whatever it shares a commit with.
				_, err := s.AppendMessage(ctx, store.Message{ConversationID: "c_MISSING" + fmt.Sprint(w), Role: kefu.RoleUser, Content: "lost"})
				if kefu.ErrorCode(err) != kefu.ENotFound {
					errs <- fmt.Errorf("append to a missing conversation: error = %v, want not_found", err)
				}
				if _, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleUser, Content: fmt.Sprint(i)}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w, c := range convs {
		if c.ID == "" {
			continue
		}
		msgs, err := s.Messages(ctx, c.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != each {
			t.Errorf("writer %d: %d messages stored, want %d", w, len(msgs), each)
			continue
		}
		for i, m := range msgs {
			if m.Content != fmt.Sprint(i) {
				t.Errorf("writer %d: message %d = %q", w, i, m.Content)
			}
			if i > 0 && m.CreatedAt.Before(msgs[i-1].CreatedAt) {
				t.Errorf("writer %d: message %d is older than the one before", w, i)
			}
		}
	}
}
