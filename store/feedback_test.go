package store_test

import (
	"context"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/store/storetest"
)

var _ storetest.FeedbackStore = (*store.Bolt)(nil)

func TestBoltFeedbackConformance(t *testing.T) {
	storetest.RunFeedback(t, func(t *testing.T) storetest.FeedbackStore { return openTest(t, t.TempDir()) })
}

// Feedback outlives the process: a rating given before a restart is read,
// and replaced, after it.
func TestBoltFeedbackSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateConversation(ctx, "", "web")
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleAssistant, Content: "Hi"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutFeedback(ctx, store.Feedback{ConversationID: c.ID, MessageID: a.ID, Rating: store.RatingDown}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openTest(t, dir)
	if st, err := s2.FeedbackStats(ctx, 5); err != nil || st.Down != 1 || len(st.RecentDown) != 1 {
		t.Fatalf("stats after reopen = %+v, %v", st, err)
	}
	if _, err := s2.PutFeedback(ctx, store.Feedback{ConversationID: c.ID, MessageID: a.ID, Rating: store.RatingUp}); err != nil {
		t.Fatal(err)
	}
	if st, err := s2.FeedbackStats(ctx, 5); err != nil || st.Up != 1 || st.Down != 0 || len(st.RecentDown) != 0 {
		t.Fatalf("stats after replacing = %+v, %v", st, err)
	}
}
