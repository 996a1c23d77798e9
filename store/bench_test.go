package store_test

import (
	"context"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
)

// BenchmarkTurnWrites is a chat turn's two writes, one after the other, on
// a store in a temporary directory: the shopper's message with a new
// conversation, then the answer, each a commit synced to disk; alone, and
// from many goroutines at once, whose writes share commits.
func BenchmarkTurnWrites(b *testing.B) {
	s, err := store.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	turn := func() {
		c, _, err := s.StartConversation(ctx, "C1001", "web", store.Message{Role: kefu.RoleUser, Content: "How long do I have to return an item?"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleAssistant,
			Content: "You can return most items within 30 days of delivery. [1]", Citations: []byte(`[{"n":1}]`)}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("one", func(b *testing.B) {
		for b.Loop() {
			turn()
		}
	})
	b.Run("concurrent", func(b *testing.B) {
		b.SetParallelism(50) // 50 goroutines per core, as a busy server
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				turn()
			}
		})
	})
}
