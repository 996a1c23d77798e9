package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
)

// PeriodStats reads the stats of [from, to), as the embedded store counts
// them (see store.PeriodStats), from one snapshot. Conversations, ratings
// and the times of agents' first replies are counted from columns; the
// bodies opened are those of the period's answers (for their intent and
// decision) and of the tickets that were opened in the period or belong
// to a conversation started in it (for reason, outcome and closing time).
// A period longer than store.MaxPeriodDays days, or that ends before it
// starts, is kefu.EInvalid.
func (s *Store) PeriodStats(ctx context.Context, from, to time.Time) (store.PeriodStats, error) {
	st, err := store.NewPeriodStats(from, to)
	if err != nil {
		return st, err
	}
	// Stored times are whole microseconds: t >= from exactly when t >=
	// from rounded up to one, and so for to.
	lo, hi := ceilMicro(from), ceilMicro(to)
	days := map[string]*store.DayStats{}
	for i := range st.Days {
		days[st.Days[i].Day] = &st.Days[i]
	}
	day := func(t time.Time) *store.DayStats { return days[t.UTC().Format("2006-01-02")] }
	err = s.snapshot(ctx, func(tx pgx.Tx) error {
		if err := s.periodConversations(ctx, tx, lo, hi, &st, days); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE rating = $3), count(*) FILTER (WHERE rating = $4)
FROM feedback WHERE created_at >= $1 AND created_at < $2`, lo, hi, store.RatingUp, store.RatingDown).Scan(&st.FeedbackUp, &st.FeedbackDown)
		if err != nil {
			return fmt.Errorf("read feedback: %w", err)
		}
		if err := s.periodAnswers(ctx, tx, lo, hi, &st); err != nil {
			return err
		}
		return s.periodTickets(ctx, tx, lo, hi, &st, day)
	})
	if err != nil {
		return st, fmt.Errorf("period stats: %w", err)
	}
	slices.Sort(st.FirstResponses)
	slices.Sort(st.Resolutions)
	return st, nil
}

// ceilMicro rounds t up to a whole microsecond.
func ceilMicro(t time.Time) time.Time {
	c := t.Truncate(time.Microsecond)
	if c.Before(t) {
		c = c.Add(time.Microsecond)
	}
	return c
}

func (s *Store) periodConversations(ctx context.Context, tx pgx.Tx, lo, hi time.Time, st *store.PeriodStats, days map[string]*store.DayStats) error {
	rows, err := tx.Query(ctx, `
SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), count(*)
FROM conversations WHERE created_at >= $1 AND created_at < $2
GROUP BY 1`, lo, hi)
	if err != nil {
		return fmt.Errorf("read conversations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		var n int
		if err := rows.Scan(&d, &n); err != nil {
			return fmt.Errorf("read conversations: %w", err)
		}
		st.Conversations += n
		if ds := days[d]; ds != nil {
			ds.Conversations += n
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read conversations: %w", err)
	}
	return nil
}

// periodAnswers counts the period's answers by intent and decision,
// which only their bodies hold.
func (s *Store) periodAnswers(ctx context.Context, tx pgx.Tx, lo, hi time.Time, st *store.PeriodStats) error {
	rows, err := tx.Query(ctx, `
SELECT id, created_at, body FROM messages
WHERE role = $3 AND created_at >= $1 AND created_at < $2`, lo, hi, kefu.RoleAssistant)
	if err != nil {
		return fmt.Errorf("read answers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var at time.Time
		var body []byte
		if err := rows.Scan(&id, &at, &body); err != nil {
			return fmt.Errorf("read answers: %w", err)
		}
		m, err := s.message(id, body, at)
		if err != nil {
			return err
		}
		st.Answers++
		if m.Intent != "" {
			st.ByIntent[m.Intent]++
		}
		if m.Decision != "" {
			st.ByDecision[m.Decision]++
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read answers: %w", err)
	}
	return nil
}

// periodTickets counts the tickets opened in the period, with how fast
// agents answered and resolved them, and the period's conversations that
// a person handled (a ticket, opened whenever, that did not close with
// outcome bot). The ticket's status and opening time are its columns;
// reason, outcome and closing time are in its body.
func (s *Store) periodTickets(ctx context.Context, tx pgx.Tx, lo, hi time.Time, st *store.PeriodStats, day func(time.Time) *store.DayStats) error {
	rows, err := tx.Query(ctx, `
SELECT t.id, t.status, t.created_at, t.body,
       t.created_at >= $1 AND t.created_at < $2,
       c.id IS NOT NULL,
       (SELECT min(m.created_at) FROM messages m
        WHERE m.conversation_id = t.conversation_id AND m.role = $3 AND m.created_at >= t.created_at)
FROM tickets t
LEFT JOIN conversations c ON c.id = t.conversation_id AND c.created_at >= $1 AND c.created_at < $2
WHERE (t.created_at >= $1 AND t.created_at < $2) OR c.id IS NOT NULL`, lo, hi, kefu.RoleAgent)
	if err != nil {
		return fmt.Errorf("read tickets: %w", err)
	}
	defer rows.Close()
	human := map[string]bool{} // the period's conversations a person handled
	for rows.Next() {
		var (
			id, status     string
			at             time.Time
			body           []byte
			inPeriod, conv bool
			firstReply     *time.Time
		)
		if err := rows.Scan(&id, &status, &at, &body, &inPeriod, &conv, &firstReply); err != nil {
			return fmt.Errorf("read tickets: %w", err)
		}
		var t store.Ticket
		if err := s.open("tickets", id, body, &t); err != nil {
			return err
		}
		if conv && t.Outcome != store.OutcomeBot {
			human[t.ConversationID] = true
		}
		if !inPeriod {
			continue
		}
		st.Tickets++
		st.ByReason[t.Reason]++
		st.ByStatus[status]++
		if t.Outcome != "" {
			st.ByOutcome[t.Outcome]++
		}
		if t.ClosedAt != nil && t.Outcome == store.OutcomeHuman {
			st.Resolutions = append(st.Resolutions, t.ClosedAt.Sub(t.CreatedAt))
		}
		if firstReply != nil {
			st.FirstResponses = append(st.FirstResponses, firstReply.Sub(at))
		}
		if d := day(at); d != nil {
			d.Tickets++
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read tickets: %w", err)
	}
	st.Escalated = len(human)
	st.ResolvedByBot = st.Conversations - st.Escalated
	return nil
}
