package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/store/storetest"
)

var _ storetest.Store = (*store.Bolt)(nil)

func openTest(t *testing.T, dir string) *store.Bolt {
	t.Helper()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestBoltConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return openTest(t, t.TempDir()) })
}

func TestBoltReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateConversation(ctx, "cust-7", "web")
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleUser, Content: "退货政策是什么？"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); kefu.ErrorCode(err) != kefu.EUnavailable {
		t.Errorf("Ping after Close = %v, want unavailable", err)
	}

	s2 := openTest(t, dir)
	got, err := s2.Conversation(ctx, c.ID)
	if err != nil || got.CustomerID != "cust-7" {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	msgs, err := s2.Messages(ctx, c.ID, 10)
	if err != nil || len(msgs) != 1 || msgs[0].ID != m.ID || msgs[0].Content != m.Content {
		t.Fatalf("after reopen: %+v, %v", msgs, err)
	}
	// The sequence survives reopening: a new message sorts after the old.
	if _, err := s2.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleAssistant, Content: "second"}); err != nil {
		t.Fatal(err)
	}
	msgs, _ = s2.Messages(ctx, c.ID, 0)
	if len(msgs) != 2 || msgs[1].Content != "second" {
		t.Fatalf("after reopen and append: %+v", msgs)
	}
}

func TestBoltFileMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	openTest(t, dir)
	fi, err := os.Stat(filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode %v, want 0600", perm)
	}
}

func TestBoltLocked(t *testing.T) {
	dir := t.TempDir()
	openTest(t, dir)
	_, err := store.OpenTimeout(dir, 10*time.Millisecond) // the first handle holds the lock
	if kefu.ErrorCode(err) != kefu.EUnavailable {
		t.Fatalf("second open: %v, want unavailable", err)
	}
}

func TestBoltCancelled(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.CreateConversation(ctx, "", "web"); err == nil {
		t.Fatal("CreateConversation with a cancelled context succeeded")
	}
}

func TestBoltIdempotencyConformance(t *testing.T) {
	storetest.RunIdempotency(t, func(t *testing.T) storetest.IdempotentStore { return openTest(t, t.TempDir()) })
}
