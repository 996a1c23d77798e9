package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
)

// PeriodStats sums up what happened in a period, for the dashboard:
// conversations started, the assistant's answers by intent and decision,
// the ratings given, and the tickets opened with how fast people answered
// and resolved them. Days holds the conversations and tickets of each UTC
// day, oldest first.
type PeriodStats struct {
	From, To time.Time

	Conversations int
	// Escalated counts the period's conversations that got a ticket;
	// ResolvedByBot those that did not, plus those whose ticket closed
	// with outcome bot.
	Escalated     int
	ResolvedByBot int

	Answers    int
	ByIntent   map[string]int // the assistant's answers by the intent understood
	ByDecision map[string]int

	FeedbackUp, FeedbackDown int

	Tickets   int
	ByReason  map[string]int
	ByStatus  map[string]int
	ByOutcome map[string]int
	// FirstResponses are, for each ticket opened in the period that an
	// agent has answered, the time from its opening to the agent's first
	// message; Resolutions the time from opening to closing of each closed
	// by a person. Both sorted, shortest first.
	FirstResponses []time.Duration
	Resolutions    []time.Duration

	Days []DayStats
}

// DayStats counts one UTC day.
type DayStats struct {
	Day           string `json:"day"` // 2006-01-02
	Conversations int    `json:"conversations"`
	Tickets       int    `json:"tickets"`
}

// maxPeriodDays bounds the days of a PeriodStats.
const maxPeriodDays = 400

// PeriodStats reads the stats of [from, to). It reads every conversation,
// message, rating and ticket once; it stops when ctx ends. A period longer
// than 400 days, or that ends before it starts, is kefu.EInvalid.
func (s *Bolt) PeriodStats(ctx context.Context, from, to time.Time) (PeriodStats, error) {
	st, err := NewPeriodStats(from, to)
	if err != nil {
		return st, err
	}
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	days := map[string]*DayStats{}
	for i := range st.Days {
		days[st.Days[i].Day] = &st.Days[i]
	}
	day := func(t time.Time) *DayStats { return days[t.UTC().Format("2006-01-02")] }
	check := func(n *int) error {
		if *n++; *n%1024 == 0 {
			return ctx.Err()
		}
		return nil
	}
	n := 0
	err = s.db.View(func(tx *bolt.Tx) error {
		convs := map[string]bool{} // in the period -> has a ticket that a person handled
		if err := tx.Bucket(bucketConversations).ForEach(func(k, raw []byte) error {
			if err := check(&n); err != nil {
				return err
			}
			var c Conversation
			if err := s.getRecord(bucketConversations, k, raw, &c); err != nil {
				return err
			}
			if in(c.CreatedAt) {
				st.Conversations++
				convs[c.ID] = false
				if d := day(c.CreatedAt); d != nil {
					d.Conversations++
				}
			}
			return nil
		}); err != nil {
			return err
		}
		tickets := map[string][]time.Time{} // conversation id -> opening times of the period's tickets
		if b := tx.Bucket(bucketTickets); b != nil {
			if err := b.ForEach(func(k, raw []byte) error {
				if err := check(&n); err != nil {
					return err
				}
				var t Ticket
				if err := s.getRecord(bucketTickets, k, raw, &t); err != nil {
					return err
				}
				if _, ok := convs[t.ConversationID]; ok && t.Outcome != OutcomeBot {
					convs[t.ConversationID] = true
				}
				if !in(t.CreatedAt) {
					return nil
				}
				st.Tickets++
				st.ByReason[t.Reason]++
				st.ByStatus[t.Status]++
				if t.Outcome != "" {
					st.ByOutcome[t.Outcome]++
				}
				if t.ClosedAt != nil && t.Outcome == OutcomeHuman {
					st.Resolutions = append(st.Resolutions, t.ClosedAt.Sub(t.CreatedAt))
				}
				tickets[t.ConversationID] = append(tickets[t.ConversationID], t.CreatedAt)
				if d := day(t.CreatedAt); d != nil {
					d.Tickets++
				}
				return nil
			}); err != nil {
				return err
			}
		}
		for _, human := range convs {
			if human {
				st.Escalated++
			}
		}
		st.ResolvedByBot = st.Conversations - st.Escalated
		answered := map[string][]time.Time{} // conversation id -> agent message times
		if err := tx.Bucket(bucketMessages).ForEach(func(k, raw []byte) error {
			if err := check(&n); err != nil {
				return err
			}
			var m Message
			if err := s.getRecord(bucketMessages, k, raw, &m); err != nil {
				return err
			}
			switch m.Role {
			case kefu.RoleAssistant:
				if in(m.CreatedAt) {
					st.Answers++
					if m.Intent != "" {
						st.ByIntent[m.Intent]++
					}
					if m.Decision != "" {
						st.ByDecision[m.Decision]++
					}
				}
			case kefu.RoleAgent:
				if _, ok := tickets[m.ConversationID]; ok {
					answered[m.ConversationID] = append(answered[m.ConversationID], m.CreatedAt)
				}
			}
			return nil
		}); err != nil {
			return err
		}
		for conv, opens := range tickets {
			for _, at := range opens {
				var first time.Time
				for _, r := range answered[conv] {
					if !r.Before(at) && (first.IsZero() || r.Before(first)) {
						first = r
					}
				}
				if !first.IsZero() {
					st.FirstResponses = append(st.FirstResponses, first.Sub(at))
				}
			}
		}
		if b := tx.Bucket(bucketFeedback); b != nil {
			if err := b.ForEach(func(k, raw []byte) error {
				if err := check(&n); err != nil {
					return err
				}
				var f feedbackRecord
				if err := s.getRecord(bucketFeedback, k, raw, &f); err != nil {
					return err
				}
				if !in(f.CreatedAt) {
					return nil
				}
				switch f.Rating {
				case RatingUp:
					st.FeedbackUp++
				case RatingDown:
					st.FeedbackDown++
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("period stats: %w", err)
	}
	sort.Slice(st.FirstResponses, func(a, b int) bool { return st.FirstResponses[a] < st.FirstResponses[b] })
	sort.Slice(st.Resolutions, func(a, b int) bool { return st.Resolutions[a] < st.Resolutions[b] })
	return st, nil
}

// NewPeriodStats returns the empty stats of [from, to): every map and
// duration list empty (not nil) and Days holding each UTC day the period
// touches, oldest first. A period longer than MaxPeriodDays days, or that
// ends before it starts, is kefu.EInvalid (the stats are then returned
// all the same, without days). Every store starts its PeriodStats here.
func NewPeriodStats(from, to time.Time) (PeriodStats, error) {
	st := PeriodStats{From: from, To: to, ByIntent: map[string]int{}, ByDecision: map[string]int{},
		ByReason: map[string]int{}, ByStatus: map[string]int{}, ByOutcome: map[string]int{},
		FirstResponses: []time.Duration{}, Resolutions: []time.Duration{}}
	if !to.After(from) {
		return st, kefu.Errorf(kefu.EInvalid, "the period ends (%s) before it starts (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	if to.Sub(from) > maxPeriodDays*24*time.Hour {
		return st, kefu.Errorf(kefu.EInvalid, "the period is longer than %d days", maxPeriodDays)
	}
	for d := from.UTC().Truncate(24 * time.Hour); d.Before(to); d = d.Add(24 * time.Hour) {
		st.Days = append(st.Days, DayStats{Day: d.Format("2006-01-02")})
	}
	return st, nil
}
