package postgres_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/pgtest"
	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/store/postgres"
)

// queryCounter counts the statements sent to the server.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Storing a message is one statement: one round trip to PostgreSQL (the
// first use of each statement on a connection also prepares it, which the
// warm-up below pays).
func TestOneRoundTripPerStoredMessage(t *testing.T) {
	var q queryCounter
	s, err := postgres.Open(context.Background(), pgtest.NewDatabase(t), testRing(t), postgres.Options{MaxConns: 1, Tracer: &q})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	user := store.Message{Role: kefu.RoleUser, Content: "where is my parcel?"}
	keyed := func(id string) store.Message { m := user; m.ClientMessageID = id; return m }
	// Warm up: each statement once.
	c, _, err := s.StartConversation(ctx, "cust-1", "web", user)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.StartConversationOnce(ctx, "cust-1", "web", keyed("warm-start-0000000")); err != nil {
		t.Fatal(err)
	}
	m := user
	m.ConversationID = c.ID
	if _, err := s.AppendMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	for name, write := range map[string]func() error{
		"StartConversation": func() error { _, _, err := s.StartConversation(ctx, "cust-2", "web", user); return err },
		"StartConversationOnce": func() error {
			_, _, _, err := s.StartConversationOnce(ctx, "cust-2", "web", keyed("start-once-000001"))
			return err
		},
		"AppendMessage": func() error { _, err := s.AppendMessage(ctx, m); return err },
		"AppendMessageOnce": func() error {
			k := keyed("append-once-00001")
			k.ConversationID = c.ID
			_, _, err := s.AppendMessageOnce(ctx, k)
			return err
		},
	} {
		before := q.n.Load()
		if err := write(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := q.n.Load() - before; n != 1 {
			t.Errorf("%s sent %d statements, want 1", name, n)
		}
	}
}
