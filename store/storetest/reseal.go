package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/seal"
	"github.com/kefuhq/kefu/store"
)

// ResealStore is the behaviour RunReseal checks: what sealed the stored
// records, and re-sealing them under a new current key.
type ResealStore interface {
	StartConversation(ctx context.Context, customerID, channel string, first store.Message) (store.Conversation, store.Message, error)
	AppendMessage(ctx context.Context, m store.Message) (store.Message, error)
	Messages(ctx context.Context, conversationID string, limit int) ([]store.Message, error)
	PutFeedback(ctx context.Context, f store.Feedback) (store.Feedback, error)
	ConversationFeedback(ctx context.Context, conversationID string) ([]store.Feedback, error)
	PutProposal(ctx context.Context, p store.Proposal) (store.Proposal, error)
	TakeProposal(ctx context.Context, conversationID, messageID string) (store.Proposal, bool, error)

	SealStatus(ctx context.Context) (map[string]int, error)
	Reseal(ctx context.Context, progress func(done int)) (int, error)
	Close() error
}

// Opener opens one store, the same each call, sealing with ring. The
// suite closes each store it opens before it opens the next.
type Opener func(ring *seal.Keyring) (ResealStore, error)

// RunReseal runs the re-encryption suite. newStore returns, for each
// subtest, the opener of a new, empty store.
func RunReseal(t *testing.T, newStore func(t *testing.T) Opener) {
	t.Run("Rotation", func(t *testing.T) { testResealRotation(t, newStore(t)) })
	t.Run("Resumes", func(t *testing.T) { testResealResumes(t, newStore(t)) })
	t.Run("Concurrent", func(t *testing.T) { testResealConcurrent(t, newStore(t)) })
}

func keyring(t *testing.T, keys ...[]byte) *seal.Keyring {
	t.Helper()
	r, err := seal.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustOpen(t *testing.T, open Opener, keys ...[]byte) ResealStore {
	t.Helper()
	s, err := open(keyring(t, keys...))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sealStatus(t *testing.T, s ResealStore) map[string]int {
	t.Helper()
	st, err := s.SealStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// wantStatus fails unless st counts exactly want.
func wantStatus(t *testing.T, when string, st, want map[string]int) {
	t.Helper()
	for k, n := range st {
		if n != want[k] {
			t.Errorf("%s: seal status %v, want %v", when, st, want)
			return
		}
	}
	for k, n := range want {
		if st[k] != n {
			t.Errorf("%s: seal status %v, want %v", when, st, want)
			return
		}
	}
}

func testResealRotation(t *testing.T, open Opener) {
	ctx := context.Background()
	k1, k2 := seal.GenerateKey(), seal.GenerateKey()
	id1, id2 := seal.FormatID(seal.KeyID(k1)), seal.FormatID(seal.KeyID(k2))
	s := mustOpen(t, open, k1)
	// One record of each kind: a conversation, two messages, a rating and
	// a proposal.
	c, _, err := s.StartConversation(ctx, "C1", "web", store.Message{Role: kefu.RoleUser, Content: "return W1"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleAssistant, Content: "Shall I start it?"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutFeedback(ctx, store.Feedback{ConversationID: c.ID, MessageID: a.ID, Rating: store.RatingUp, Comment: "quick"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutProposal(ctx, store.Proposal{ConversationID: c.ID, CustomerID: "C1", Kind: "return", OrderID: "W1", Summary: "return W1"}); err != nil {
		t.Fatal(err)
	}
	const records = 5
	wantStatus(t, "written under k1", sealStatus(t, s), map[string]int{id1: records})
	calls := 0
	if n, err := s.Reseal(ctx, func(int) { calls++ }); err != nil || n != 0 || calls != 0 {
		t.Errorf("reseal under the key that sealed everything = %d, %v (%d progress calls); want 0", n, err, calls)
	}
	s.Close()

	// Rotate: k2 seals, k1 still opens.
	s = mustOpen(t, open, k2, k1)
	if msgs, err := s.Messages(ctx, c.ID, 0); err != nil || len(msgs) != 2 {
		t.Fatalf("messages under the rotated keyring = %+v, %v", msgs, err)
	}
	wantStatus(t, "before the reseal", sealStatus(t, s), map[string]int{id1: records})
	var seen []int
	n, err := s.Reseal(ctx, func(done int) { seen = append(seen, done) })
	if err != nil || n != records {
		t.Errorf("reseal to the new key = %d, %v; want %d", n, err, records)
	}
	if len(seen) == 0 || seen[len(seen)-1] != n {
		t.Errorf("progress %v, want it to end at %d", seen, n)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Errorf("progress %v does not grow", seen)
		}
	}
	wantStatus(t, "after the reseal", sealStatus(t, s), map[string]int{id2: records})
	if n, err := s.Reseal(ctx, nil); err != nil || n != 0 {
		t.Errorf("a second reseal rewrote %d records, %v", n, err)
	}
	if _, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleUser, Content: "yes"}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "a new record", sealStatus(t, s), map[string]int{id2: records + 1})
	s.Close()

	// The old key retired: everything opens with k2 alone.
	s = mustOpen(t, open, k2)
	msgs, err := s.Messages(ctx, c.ID, 0)
	if err != nil || len(msgs) != 3 || msgs[0].Content != "return W1" || msgs[2].Content != "yes" {
		t.Fatalf("messages after the rotation = %+v, %v", msgs, err)
	}
	if fb, err := s.ConversationFeedback(ctx, c.ID); err != nil || len(fb) != 1 || fb[0].Comment != "quick" {
		t.Errorf("feedback after the rotation = %+v, %v", fb, err)
	}
	if p, ok, err := s.TakeProposal(ctx, c.ID, msgs[2].ID); err != nil || !ok || p.OrderID != "W1" {
		t.Errorf("proposal after the rotation = %+v, %v, %v", p, ok, err)
	}
	s.Close()

	// Without the key that sealed them, records do not open, and say why.
	s, err = open(keyring(t, k1))
	if err == nil {
		s.Close()
	}
	if kefu.ErrorCode(err) != kefu.EUnavailable || !strings.Contains(err.Error(), "not configured") {
		t.Errorf("open with a retired key only: %v, want unavailable, not configured", err)
	}
}

// fill stores, under s's current key, conversations of messages enough
// for several batches of Reseal, from writers at once; it returns how
// many records it stored.
func fill(t *testing.T, s ResealStore, writers, each int) int {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := s.StartConversation(ctx, fmt.Sprint("cust-", w), "web", store.Message{Role: kefu.RoleUser, Content: "0"})
			if err != nil {
				errs <- err
				return
			}
			for i := 1; i < each; i++ {
				if _, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleUser, Content: fmt.Sprint(i)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return writers * (1 + each)
}

// testResealResumes stops a re-encryption after its first batch, as a
// crash or Ctrl-C would: what was done stays done, and the next run
// finishes the rest.
func testResealResumes(t *testing.T, open Opener) {
	ctx := context.Background()
	k1, k2 := seal.GenerateKey(), seal.GenerateKey()
	id1, id2 := seal.FormatID(seal.KeyID(k1)), seal.FormatID(seal.KeyID(k2))
	s := mustOpen(t, open, k1)
	total := fill(t, s, 8, (2*store.ResealBatch+7)/8+1)
	s.Close()

	s = mustOpen(t, open, k2, k1)
	defer s.Close()
	stop, cancel := context.WithCancel(ctx)
	var first int
	done, err := s.Reseal(stop, func(n int) { first = n; cancel() })
	if !errors.Is(err, context.Canceled) || done != first || done == 0 || done >= total {
		t.Fatalf("interrupted reseal = %d, %v; want %d (its first batch) and context.Canceled", done, err, first)
	}
	wantStatus(t, "after the interruption", sealStatus(t, s), map[string]int{id1: total - done, id2: done})
	rest, err := s.Reseal(ctx, nil)
	if err != nil || rest != total-done {
		t.Fatalf("resumed reseal = %d, %v; want %d", rest, err, total-done)
	}
	wantStatus(t, "after resuming", sealStatus(t, s), map[string]int{id2: total})
}

// testResealConcurrent runs two re-encryptions at once, as two replicas
// starting together do: both succeed and every record ends under the
// current key, readable.
func testResealConcurrent(t *testing.T, open Opener) {
	ctx := context.Background()
	k1, k2 := seal.GenerateKey(), seal.GenerateKey()
	s := mustOpen(t, open, k1)
	total := fill(t, s, 4, 150)
	s.Close()

	s = mustOpen(t, open, k2, k1)
	defer s.Close()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Reseal(ctx, nil)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	wantStatus(t, "after two reseals at once", sealStatus(t, s), map[string]int{seal.FormatID(seal.KeyID(k2)): total})
}
