package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
)

// PeriodStore is the behaviour RunPeriod checks: the dashboard's
// statistics of a period, read from conversations, answers, ratings and
// tickets.
type PeriodStore interface {
	CreateConversation(ctx context.Context, customerID, channel string) (store.Conversation, error)
	AppendMessage(ctx context.Context, m store.Message) (store.Message, error)
	PutFeedback(ctx context.Context, f store.Feedback) (store.Feedback, error)
	OpenTicket(ctx context.Context, conversationID string, change func(t *store.Ticket, isNew bool) (*store.OutboxEvent, error)) (store.Ticket, bool, error)
	UpdateTicket(ctx context.Context, id string, change store.TicketChange) (store.Ticket, error)
	PeriodStats(ctx context.Context, from, to time.Time) (store.PeriodStats, error)
}

// RunPeriod runs the period statistics suite. open returns a new, empty
// store for each subtest and arranges its closing with t.Cleanup.
func RunPeriod(t *testing.T, open func(t *testing.T) PeriodStore) {
	t.Run("Bounds", func(t *testing.T) { testPeriodBounds(t, open(t)) })
	t.Run("Empty", func(t *testing.T) { testPeriodEmpty(t, open(t)) })
	t.Run("Counts", func(t *testing.T) { testPeriodCounts(t, open(t)) })
	t.Run("Edges", func(t *testing.T) { testPeriodEdges(t, open(t)) })
	t.Run("AcrossPeriods", func(t *testing.T) { testPeriodAcross(t, open(t)) })
}

// A ticket counts toward the period it was opened in, but a conversation
// of the period that a person handled counts as escalated whenever its
// ticket was opened; and agents' first replies are measured from each
// ticket's opening, wherever the reply falls.
func testPeriodAcross(t *testing.T, s PeriodStore) {
	ctx := context.Background()
	c, err := s.CreateConversation(ctx, "cust", "web")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	tk := periodTicket(t, s, c.ID, "requested")
	time.Sleep(2 * time.Millisecond)
	reply, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleAgent, Content: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if !tk.CreatedAt.After(c.CreatedAt) || !reply.CreatedAt.After(tk.CreatedAt) {
		t.Fatalf("conversation at %v, ticket at %v, reply at %v: not in that order", c.CreatedAt, tk.CreatedAt, reply.CreatedAt)
	}
	time.Sleep(2 * time.Millisecond)
	tk = closeTicket(t, s, tk.ID, store.OutcomeHuman)
	end := tk.ClosedAt.Add(time.Millisecond)

	// The conversation's period, which ends before the ticket opened.
	st, err := s.PeriodStats(ctx, c.CreatedAt, tk.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	if st.Conversations != 1 || st.Escalated != 1 || st.ResolvedByBot != 0 || st.Tickets != 0 || len(st.FirstResponses) != 0 {
		t.Errorf("the conversation's period = %+v", st)
	}
	// The ticket's period, after the conversation started.
	st, err = s.PeriodStats(ctx, tk.CreatedAt, end)
	if err != nil {
		t.Fatal(err)
	}
	if st.Conversations != 0 || st.Escalated != 0 || st.Tickets != 1 || st.ByStatus[store.TicketClosed] != 1 ||
		len(st.FirstResponses) != 1 || st.FirstResponses[0] != reply.CreatedAt.Sub(tk.CreatedAt) ||
		len(st.Resolutions) != 1 || st.Resolutions[0] != tk.ClosedAt.Sub(tk.CreatedAt) {
		t.Errorf("the ticket's period = %+v", st)
	}
}

func testPeriodBounds(t *testing.T, s PeriodStore) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for name, to := range map[string]time.Time{
		"ends before it starts": at.Add(-time.Hour),
		"ends as it starts":     at,
		"longer than the limit": at.Add((store.MaxPeriodDays*24 + 1) * time.Hour),
	} {
		if _, err := s.PeriodStats(ctx, at, to); kefu.ErrorCode(err) != kefu.EInvalid {
			t.Errorf("%s: error = %v, want invalid", name, err)
		}
	}
	st, err := s.PeriodStats(ctx, at, at.Add(store.MaxPeriodDays*24*time.Hour))
	if err != nil {
		t.Fatalf("a period of the longest length: %v", err)
	}
	// Noon to noon touches one day more than it spans.
	if len(st.Days) != store.MaxPeriodDays+1 || st.Days[0].Day != "2026-03-01" {
		t.Errorf("days: %d from %v", len(st.Days), st.Days[:1])
	}
}

func testPeriodEmpty(t *testing.T, s PeriodStore) {
	ctx := context.Background()
	c, err := s.CreateConversation(ctx, "", "web")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleAssistant, Content: "hi", Intent: "chitchat"}); err != nil {
		t.Fatal(err)
	}
	from := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	st, err := s.PeriodStats(ctx, from, from.AddDate(0, 0, 7))
	if err != nil {
		t.Fatal(err)
	}
	if st.Conversations != 0 || st.Answers != 0 || st.Tickets != 0 || st.Escalated != 0 || st.ResolvedByBot != 0 ||
		st.FeedbackUp != 0 || st.FeedbackDown != 0 {
		t.Errorf("a period before anything = %+v", st)
	}
	if st.ByIntent == nil || st.ByDecision == nil || st.ByReason == nil || st.ByStatus == nil || st.ByOutcome == nil ||
		st.FirstResponses == nil || st.Resolutions == nil || len(st.ByIntent) != 0 || len(st.FirstResponses) != 0 {
		t.Errorf("empty maps and lists are empty, not nil: %+v", st)
	}
	if !st.From.Equal(from) || !st.To.Equal(from.AddDate(0, 0, 7)) || len(st.Days) != 7 || st.Days[0].Day != "2020-01-01" || st.Days[6].Day != "2020-01-07" {
		t.Errorf("period %v to %v, days %+v", st.From, st.To, st.Days)
	}
	for _, d := range st.Days {
		if d.Conversations != 0 || d.Tickets != 0 {
			t.Errorf("day %+v", d)
		}
	}
}

// periodTicket opens a ticket with reason on conversation convID.
func periodTicket(t *testing.T, s PeriodStore, convID, reason string) store.Ticket {
	t.Helper()
	tk, _, err := s.OpenTicket(context.Background(), convID, func(tk *store.Ticket, _ bool) (*store.OutboxEvent, error) {
		tk.Reason, tk.Priority, tk.Team = reason, store.PriorityNormal, "support"
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func closeTicket(t *testing.T, s PeriodStore, id, outcome string) store.Ticket {
	t.Helper()
	tk, err := s.UpdateTicket(context.Background(), id, func(tk *store.Ticket) (*store.OutboxEvent, error) {
		now := time.Now().UTC()
		tk.Status, tk.Outcome, tk.ClosedAt = store.TicketClosed, outcome, &now
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func testPeriodCounts(t *testing.T, s PeriodStore) {
	ctx := context.Background()
	start := time.Now()
	conv := func() store.Conversation {
		t.Helper()
		c, err := s.CreateConversation(ctx, "cust", "web")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	msg := func(c store.Conversation, role, intent, decision string) store.Message {
		t.Helper()
		m, err := s.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: role, Content: role + " words", Intent: intent, Decision: decision})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	rate := func(m store.Message, rating string) {
		t.Helper()
		if _, err := s.PutFeedback(ctx, store.Feedback{ConversationID: m.ConversationID, MessageID: m.ID, Rating: rating}); err != nil {
			t.Fatal(err)
		}
	}
	// a: answered by the assistant alone, rated down and then up.
	a := conv()
	msg(a, kefu.RoleUser, "", "")
	aa := msg(a, kefu.RoleAssistant, "order_status", "answer")
	rate(aa, store.RatingDown)
	rate(aa, store.RatingUp)
	// b: handed to an agent, who answered and resolved it.
	b := conv()
	msg(b, kefu.RoleUser, "", "")
	ba := msg(b, kefu.RoleAssistant, "return", "escalate")
	rate(ba, store.RatingDown)
	tb := periodTicket(t, s, b.ID, "requested")
	msg(b, kefu.RoleAgent, "", "")
	msg(b, kefu.RoleAgent, "", "")
	tb = closeTicket(t, s, tb.ID, store.OutcomeHuman)
	// c: a ticket the assistant resolved after all (an agent said hello).
	c := conv()
	msg(c, kefu.RoleAssistant, "", "clarify")
	tc := periodTicket(t, s, c.ID, "low_confidence")
	msg(c, kefu.RoleAgent, "", "")
	closeTicket(t, s, tc.ID, store.OutcomeBot)
	// d: an agent wrote before the ticket opened, and not since: no
	// first response; the ticket is still open.
	d := conv()
	msg(d, kefu.RoleAgent, "", "")
	msg(d, kefu.RoleSystem, "", "")
	periodTicket(t, s, d.ID, "anger")
	end := time.Now()

	st, err := s.PeriodStats(ctx, start.Add(-time.Minute), end.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	eq := func(name string, got, want int) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	eq("conversations", st.Conversations, 4)
	eq("escalated", st.Escalated, 2) // b and d; c closed with outcome bot
	eq("resolved by bot", st.ResolvedByBot, 2)
	eq("answers", st.Answers, 3)
	eq("feedback up", st.FeedbackUp, 1) // a's down was replaced
	eq("feedback down", st.FeedbackDown, 1)
	eq("tickets", st.Tickets, 3)
	wantMap := func(name string, got, want map[string]int) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
			return
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", name, got, want)
				return
			}
		}
	}
	wantMap("by intent", st.ByIntent, map[string]int{"order_status": 1, "return": 1})
	wantMap("by decision", st.ByDecision, map[string]int{"answer": 1, "escalate": 1, "clarify": 1})
	wantMap("by reason", st.ByReason, map[string]int{"requested": 1, "low_confidence": 1, "anger": 1})
	wantMap("by status", st.ByStatus, map[string]int{store.TicketClosed: 2, store.TicketOpen: 1})
	wantMap("by outcome", st.ByOutcome, map[string]int{store.OutcomeHuman: 1, store.OutcomeBot: 1})
	if len(st.FirstResponses) != 2 || !slices.IsSorted(st.FirstResponses) || st.FirstResponses[0] < 0 || st.FirstResponses[1] > end.Sub(start) {
		t.Errorf("first responses = %v, want 2 (b and c), sorted, within the test", st.FirstResponses)
	}
	if len(st.Resolutions) != 1 || st.Resolutions[0] != tb.ClosedAt.Sub(tb.CreatedAt) {
		t.Errorf("resolutions = %v, want b's %v", st.Resolutions, tb.ClosedAt.Sub(tb.CreatedAt))
	}
	var convs, tickets int
	for i, day := range st.Days {
		convs += day.Conversations
		tickets += day.Tickets
		want := start.Add(-time.Minute).UTC().Truncate(24*time.Hour).AddDate(0, 0, i).Format("2006-01-02")
		if day.Day != want {
			t.Errorf("day %d is %s, want %s", i, day.Day, want)
		}
	}
	if convs != 4 || tickets != 3 || len(st.Days) == 0 || len(st.Days) > 2 {
		t.Errorf("days = %+v; want 4 conversations and 3 tickets over one or two days", st.Days)
	}

	// After all of it, nothing.
	later, err := s.PeriodStats(ctx, end.Add(time.Minute), end.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if later.Conversations != 0 || later.Answers != 0 || later.Tickets != 0 || later.FeedbackUp+later.FeedbackDown != 0 ||
		len(later.FirstResponses) != 0 || len(later.Resolutions) != 0 {
		t.Errorf("a period after everything = %+v", later)
	}
}

// testPeriodEdges checks that a period holds what happened at its start
// and not what happened at its end.
func testPeriodEdges(t *testing.T, s PeriodStore) {
	ctx := context.Background()
	c, err := s.CreateConversation(ctx, "", "web")
	if err != nil {
		t.Fatal(err)
	}
	at := c.CreatedAt
	for _, tt := range []struct {
		name     string
		from, to time.Time
		want     int
	}{
		{"starting at it", at, at.Add(time.Nanosecond), 1},
		{"ending at it", at.Add(-time.Hour), at, 0},
		{"ending just after it", at.Add(-time.Hour), at.Add(time.Nanosecond), 1},
		{"starting just after it", at.Add(time.Nanosecond), at.Add(time.Hour), 0},
	} {
		st, err := s.PeriodStats(ctx, tt.from, tt.to)
		if err != nil {
			t.Fatal(err)
		}
		if st.Conversations != tt.want {
			t.Errorf("%s: %d conversations, want %d", tt.name, st.Conversations, tt.want)
		}
	}
}
