package api_test

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/prompts"
	"github.com/kefuhq/kefu/rag"
	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/store/storetest"
)

// fakeAnswerer is an Answerer whose stream is StreamFn's.
type fakeAnswerer struct {
	StreamFn func(ctx context.Context, t rag.Turn) iter.Seq2[rag.Event, error]
}

func (f *fakeAnswerer) Stream(ctx context.Context, t rag.Turn) iter.Seq2[rag.Event, error] {
	return f.StreamFn(ctx, t)
}

// events returns a stream that yields evs, then err if not nil.
func events(err error, evs ...rag.Event) iter.Seq2[rag.Event, error] {
	return func(yield func(rag.Event, error) bool) {
		for _, ev := range evs {
			if !yield(ev, nil) {
				return
			}
		}
		if err != nil {
			yield(rag.Event{}, err)
		}
	}
}

// answerEvents is a whole successful turn.
func answerEvents(answer string) []rag.Event {
	return []rag.Event{
		{Type: rag.EventMeta, Meta: &rag.Meta{
			Intent: "return_refund", Locale: "en", Sentiment: "neutral", Decision: rag.DecideAnswer,
			Query: "return opened headphones", Backend: "extractive", PromptVersion: prompts.Version,
			Retrieved: []kefu.Hit{{Chunk: kefu.Chunk{ID: "secret-chunk", Text: "RETRIEVED-TEXT-NEVER-SENT"}}},
		}},
		{Type: rag.EventDelta, Delta: answer[:len(answer)/2]},
		{Type: rag.EventDelta, Delta: answer[len(answer)/2:]},
		{Type: rag.EventCitations, Citations: []rag.Citation{{N: 1, DocID: "policy-returns", Title: "Returns", Source: "policies/returns.md", Snippet: "within 30 days", Score: 0.82}}},
		{Type: rag.EventDone, Done: &rag.Done{Answer: answer}},
	}
}

// memStore is an in-memory conversation store. It passes the store
// conformance suite (TestMemStoreConformance), so tests against it hold
// for the real stores. AppendFn, when set, runs first on each append and
// may fail it.
type memStore struct {
	mu       sync.Mutex
	n        int
	convs    map[string]store.Conversation
	msgs     map[string][]store.Message
	AppendFn func(m store.Message) error
}

func newMemStore() *memStore {
	return &memStore{convs: map[string]store.Conversation{}, msgs: map[string][]store.Message{}}
}

func (s *memStore) CreateConversation(ctx context.Context, customerID, channel string) (store.Conversation, error) {
	if err := ctx.Err(); err != nil {
		return store.Conversation{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	now := time.Now().UTC()
	c := store.Conversation{ID: fmt.Sprintf("c_%026d", s.n), CustomerID: customerID, Channel: channel, CreatedAt: now, UpdatedAt: now}
	s.convs[c.ID] = c
	return c, nil
}

func (s *memStore) StartConversation(ctx context.Context, customerID, channel string, first store.Message) (store.Conversation, store.Message, error) {
	if err := store.CheckMessage(first); err != nil {
		return store.Conversation{}, store.Message{}, err
	}
	c, err := s.CreateConversation(ctx, customerID, channel)
	if err != nil {
		return c, store.Message{}, err
	}
	first.ConversationID = c.ID
	m, err := s.AppendMessage(ctx, first)
	if err != nil {
		s.mu.Lock()
		delete(s.convs, c.ID)
		s.mu.Unlock()
		return store.Conversation{}, store.Message{}, err
	}
	s.mu.Lock()
	c = s.convs[c.ID]
	s.mu.Unlock()
	return c, m, nil
}

func (s *memStore) Conversation(ctx context.Context, id string) (store.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[id]
	if !ok {
		return c, kefu.Errorf(kefu.ENotFound, "conversation %q not found", id)
	}
	return c, nil
}

func (s *memStore) AppendMessage(ctx context.Context, m store.Message) (store.Message, error) {
	if err := ctx.Err(); err != nil {
		return store.Message{}, err
	}
	if s.AppendFn != nil {
		if err := s.AppendFn(m); err != nil {
			return store.Message{}, err
		}
	}
	if err := store.CheckMessage(m); err != nil {
		return store.Message{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[m.ConversationID]
	if !ok {
		return store.Message{}, kefu.Errorf(kefu.ENotFound, "conversation %q not found", m.ConversationID)
	}
	s.n++
	m.ID = fmt.Sprintf("m_%026d", s.n)
	m.CreatedAt = time.Now().UTC()
	c.UpdatedAt = m.CreatedAt
	s.convs[c.ID] = c
	s.msgs[c.ID] = append(s.msgs[c.ID], m)
	return m, nil
}

func (s *memStore) Message(ctx context.Context, id string) (store.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, msgs := range s.msgs {
		for _, m := range msgs {
			if m.ID == id {
				return m, nil
			}
		}
	}
	return store.Message{}, kefu.Errorf(kefu.ENotFound, "message %q not found", id)
}

func (s *memStore) Messages(ctx context.Context, conversationID string, limit int) ([]store.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.convs[conversationID]; !ok {
		return nil, kefu.Errorf(kefu.ENotFound, "conversation %q not found", conversationID)
	}
	msgs := s.msgs[conversationID]
	if limit > 0 && len(msgs) > limit {
		msgs = msgs[len(msgs)-limit:]
	}
	return slices.Clone(msgs), nil
}

func (s *memStore) Ping(ctx context.Context) error { return nil }

// all returns every message of a conversation.
func (s *memStore) all(t *testing.T, conversationID string) []store.Message {
	t.Helper()
	msgs, err := s.Messages(context.Background(), conversationID, 0)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// only returns the single conversation in the store.
func (s *memStore) only(t *testing.T) store.Conversation {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.convs) != 1 {
		t.Fatalf("store holds %d conversations, want 1", len(s.convs))
	}
	var only store.Conversation
	for _, c := range s.convs {
		only = c
	}
	return only
}

func TestMemStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return newMemStore() })
	storetest.RunIdempotency(t, func(t *testing.T) storetest.IdempotentStore { return newMemStore() })
}

// byClientID finds the message owner stored with key; s.mu is held.
func (s *memStore) byClientID(owner, key string) (store.Message, bool) {
	for id, msgs := range s.msgs {
		if s.convs[id].CustomerID != owner {
			continue
		}
		for _, m := range msgs {
			if m.ClientMessageID == key {
				return m, true
			}
		}
	}
	return store.Message{}, false
}

func (s *memStore) MessageByClientID(ctx context.Context, owner, key string) (store.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.byClientID(owner, key); ok && key != "" {
		return m, nil
	}
	return store.Message{}, kefu.Errorf(kefu.ENotFound, "no message with client message id %q", key)
}

// onceMu serialises the Once methods, so that a check and its write are
// one step, as in a real store's transaction.
var onceMu sync.Mutex

func (s *memStore) AppendMessageOnce(ctx context.Context, m store.Message) (store.Message, bool, error) {
	if err := store.CheckClientMessageID(m.ClientMessageID); err != nil {
		return store.Message{}, false, err
	}
	onceMu.Lock()
	defer onceMu.Unlock()
	if m.ClientMessageID != "" {
		s.mu.Lock()
		c, ok := s.convs[m.ConversationID]
		found, dup := s.byClientID(c.CustomerID, m.ClientMessageID)
		s.mu.Unlock()
		if !ok {
			return store.Message{}, false, kefu.Errorf(kefu.ENotFound, "conversation %q not found", m.ConversationID)
		}
		if dup {
			return found, true, nil
		}
	}
	out, err := s.AppendMessage(ctx, m)
	return out, false, err
}

func (s *memStore) StartConversationOnce(ctx context.Context, owner, channel string, first store.Message) (store.Conversation, store.Message, bool, error) {
	if err := store.CheckClientMessageID(first.ClientMessageID); err != nil {
		return store.Conversation{}, store.Message{}, false, err
	}
	onceMu.Lock()
	defer onceMu.Unlock()
	if first.ClientMessageID != "" {
		s.mu.Lock()
		found, dup := s.byClientID(owner, first.ClientMessageID)
		c := s.convs[found.ConversationID]
		s.mu.Unlock()
		if dup {
			return c, found, true, nil
		}
	}
	c, m, err := s.StartConversation(ctx, owner, channel, first)
	return c, m, false, err
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
