package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/pgtest"
	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/store/postgres"
	"github.com/kefuhq/kefu/store/storetest"
)

var _ storetest.TicketStore = (*postgres.Store)(nil)

func TestTicketConformance(t *testing.T) {
	storetest.RunTickets(t, func(t *testing.T) storetest.TicketStore { return openTest(t) })
}

// replicas opens n stores on one fresh database, as n replicas would.
func replicas(t *testing.T, n int) []*postgres.Store {
	t.Helper()
	dsn, ring := pgtest.NewDatabase(t), testRing(t)
	out := make([]*postgres.Store, n)
	for i := range out {
		out[i] = openOn(t, dsn, ring)
	}
	return out
}

func evBody(id, ticket string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"id":%q,"ticket":%q}`, id, ticket))
}

// queue opens a ticket on a new conversation and changes it n times, each
// change queuing one event; it returns the ticket and its events' ids in
// order.
func queue(t *testing.T, s *postgres.Store, n int) (store.Ticket, []string) {
	t.Helper()
	ctx := context.Background()
	c, err := s.CreateConversation(ctx, "cust-1", "web")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	tk, _, err := s.OpenTicket(ctx, c.ID, func(x *store.Ticket, _ bool) (*store.OutboxEvent, error) {
		x.Reason, x.Priority, x.Team = "requested", store.PriorityNormal, "support"
		ids = append(ids, x.ID+"-0")
		return &store.OutboxEvent{ID: x.ID + "-0", Body: evBody(x.ID+"-0", x.ID)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		id := fmt.Sprintf("%s-%d", tk.ID, i)
		if _, err := s.UpdateTicket(ctx, tk.ID, func(x *store.Ticket) (*store.OutboxEvent, error) {
			x.Summary = id
			return &store.OutboxEvent{ID: id, Body: evBody(id, x.ID)}, nil
		}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return tk, ids
}

func ticketOf(t *testing.T, ev store.OutboxEvent) string {
	t.Helper()
	var b struct{ Ticket string }
	if err := json.Unmarshal(ev.Body, &b); err != nil {
		t.Fatal(err)
	}
	return b.Ticket
}

// Two replicas draining one outbox at once: no event is handed to both,
// every event is handed out, and each ticket's events are delivered in the
// order they were queued.
func TestOutboxTwoReplicasDrain(t *testing.T) {
	rs := replicas(t, 2)
	ctx := context.Background()
	want := map[string][]string{} // ticket -> its events in order
	for range 6 {
		tk, ids := queue(t, rs[0], 5)
		want[tk.ID] = ids
	}
	for i := range 10 {
		id := fmt.Sprint("loose-", i)
		if err := rs[1].Enqueue(ctx, store.OutboxEvent{ID: id, Body: evBody(id, "")}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu        sync.Mutex
		handedTo  = map[string]int{}
		delivered = map[string][]string{} // ticket -> events in delivery order
	)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for r, s := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for idle := 0; idle < 200; {
				due, err := s.DueOutbox(ctx, time.Now(), 3)
				if err != nil {
					errs <- err
					return
				}
				if len(due) == 0 {
					if n, err := s.OutboxLen(ctx); err != nil || n == 0 {
						errs <- err
						return
					}
					idle++
					time.Sleep(2 * time.Millisecond)
					continue
				}
				for _, ev := range due {
					mu.Lock()
					if other, ok := handedTo[ev.ID]; ok && other != r {
						mu.Unlock()
						errs <- fmt.Errorf("event %s handed to replica %d and to replica %d", ev.ID, other, r)
						return
					}
					handedTo[ev.ID] = r
					if tk := ticketOf(t, ev); tk != "" {
						delivered[tk] = append(delivered[tk], ev.ID)
					}
					mu.Unlock()
					if err := s.OutboxDelivered(ctx, ev.ID); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- fmt.Errorf("replica %d: the outbox did not drain", r)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if len(handedTo) != 6*5+10 {
		t.Errorf("%d events handed out, want %d", len(handedTo), 6*5+10)
	}
	for tk, ids := range want {
		if got := delivered[tk]; !slices.Equal(got, ids) {
			t.Errorf("ticket %s: delivered %v, want %v", tk, got, ids)
		}
	}
	if n, err := rs[0].OutboxLen(ctx); err != nil || n != 0 {
		t.Errorf("OutboxLen after draining = %d, %v", n, err)
	}
}

// An event handed to one replica is not handed to another until its lease
// runs out; a failed event holds back the later events of its ticket, on
// every replica, until its retry is due.
func TestOutboxLeaseAndTicketOrder(t *testing.T) {
	dsn, ring := pgtest.NewDatabase(t), testRing(t)
	a, b := openOn(t, dsn, ring), openOn(t, dsn, ring)
	ctx := context.Background()
	t1, ids1 := queue(t, a, 3)
	_, ids2 := queue(t, a, 2)
	now := time.Now()

	got, err := a.DueOutbox(ctx, now, 1)
	if err != nil || eventIDs(got) != fmt.Sprint(ids1[:1]) {
		t.Fatalf("replica a takes %s, %v; want %v", eventIDs(got), err, ids1[:1])
	}
	// b is not handed a's event, nor the later ones of its ticket.
	got, _ = b.DueOutbox(ctx, now, 0)
	if eventIDs(got) != fmt.Sprint(ids2) {
		t.Errorf("replica b takes %s; want only the other ticket's %v", eventIDs(got), ids2)
	}
	// a is handed its event again, and the rest of its ticket with it.
	got, _ = a.DueOutbox(ctx, now, 0)
	if eventIDs(got) != fmt.Sprint(ids1) {
		t.Errorf("replica a takes %s; want %v", eventIDs(got), ids1)
	}
	// The first event fails: the ticket's later events wait for its retry.
	later := now.Add(time.Hour)
	if err := a.OutboxFailed(ctx, ids1[0], later, "receiver answered 503"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*postgres.Store{a, b} {
		if got, _ := s.DueOutbox(ctx, now, 0); slices.ContainsFunc(got, func(ev store.OutboxEvent) bool { return ticketOf(t, ev) == t1.ID }) {
			t.Errorf("events of ticket %s are handed out while its first waits for a retry: %s", t1.ID, eventIDs(got))
		}
	}
	// A failed event's lease ends: at the retry time, b may take it.
	got, _ = b.DueOutbox(ctx, later, 0)
	if len(got) == 0 || got[0].ID != ids1[0] || got[0].Attempts != 1 || got[0].LastError != "receiver answered 503" {
		t.Fatalf("replica b at the retry time takes %+v", got)
	}
	// Leases run out: a replica whose clock is past the lease takes the
	// events of the others.
	c, err := postgres.Open(ctx, dsn, ring, postgres.Options{Now: func() time.Time { return time.Now().Add(postgres.OutboxLease + time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, _ = c.DueOutbox(ctx, later, 0)
	if want := fmt.Sprint(append(slices.Clone(ids1), ids2...)); eventIDs(got) != want {
		t.Errorf("after the leases ran out, replica c takes %s; want %s", eventIDs(got), want)
	}
}

func eventIDs(evs []store.OutboxEvent) string {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return fmt.Sprint(ids)
}

// Replicas opening a ticket on one conversation at once make one ticket:
// the others change it, and every change's event is queued.
func TestOpenTicketConcurrently(t *testing.T) {
	rs := replicas(t, 2)
	ctx := context.Background()
	c, err := rs[0].CreateConversation(ctx, "cust-1", "web")
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	type result struct {
		t     store.Ticket
		isNew bool
		err   error
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			tk, isNew, err := rs[i%2].OpenTicket(ctx, c.ID, func(x *store.Ticket, _ bool) (*store.OutboxEvent, error) {
				x.Reason, x.Priority, x.Team = "requested", store.PriorityNormal, "support"
				id := fmt.Sprint("open-", i)
				return &store.OutboxEvent{ID: id, Body: evBody(id, x.ID)}, nil
			})
			results <- result{tk, isNew, err}
		}()
	}
	ids := map[string]bool{}
	news := 0
	for range n {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		ids[r.t.ID] = true
		if r.isNew {
			news++
		}
	}
	if len(ids) != 1 || news != 1 {
		t.Errorf("%d tickets, %d new; want one ticket, new once", len(ids), news)
	}
	all, err := rs[1].Tickets(ctx, store.TicketFilter{Statuses: []string{store.TicketOpen, store.TicketClaimed, store.TicketClosed}})
	if err != nil || len(all) != 1 {
		t.Errorf("Tickets = %+v, %v; want one", all, err)
	}
	if n2, err := rs[0].OutboxLen(ctx); err != nil || n2 != n {
		t.Errorf("OutboxLen = %d, %v; want %d", n2, err, n)
	}
}

// A ticket reopened while another is active is a conflict, also when two
// replicas race: one of them wins, the other gets kefu.EConflict or finds
// the winner's ticket.
func TestReopenRacesOpen(t *testing.T) {
	rs := replicas(t, 2)
	ctx := context.Background()
	for range 5 {
		c, _ := rs[0].CreateConversation(ctx, "", "web")
		first, _, err := rs[0].OpenTicket(ctx, c.ID, func(x *store.Ticket, _ bool) (*store.OutboxEvent, error) {
			x.Reason, x.Priority = "requested", store.PriorityNormal
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rs[0].UpdateTicket(ctx, first.ID, func(x *store.Ticket) (*store.OutboxEvent, error) {
			x.Status, x.Outcome = store.TicketClosed, store.OutcomeBot
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var reopenErr, openErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, reopenErr = rs[0].UpdateTicket(ctx, first.ID, func(x *store.Ticket) (*store.OutboxEvent, error) {
				x.Status, x.Outcome = store.TicketOpen, ""
				return nil, nil
			})
		}()
		go func() {
			defer wg.Done()
			_, _, openErr = rs[1].OpenTicket(ctx, c.ID, func(x *store.Ticket, _ bool) (*store.OutboxEvent, error) {
				x.Reason, x.Priority = "anger", store.PriorityHigh
				return nil, nil
			})
		}()
		wg.Wait()
		if openErr != nil {
			t.Fatalf("OpenTicket: %v", openErr)
		}
		if reopenErr != nil && kefu.ErrorCode(reopenErr) != kefu.EConflict {
			t.Fatalf("reopen: %v, want nil or conflict", reopenErr)
		}
		active, err := rs[1].ActiveTicket(ctx, c.ID)
		if err != nil || active.Reason != "anger" {
			t.Errorf("active ticket = %+v, %v; want the one OpenTicket changed", active, err)
		}
		if reopenErr == nil && active.ID != first.ID {
			t.Errorf("the reopen won but the active ticket is %s, not %s", active.ID, first.ID)
		}
	}
}

// Two replicas appending at once keep one chain.
func TestAuditConcurrentReplicas(t *testing.T) {
	rs := replicas(t, 2)
	ctx := context.Background()
	const per = 20
	var wg sync.WaitGroup
	errs := make(chan error, 4*per)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range per {
				r := store.AuditRecord{Actor: fmt.Sprint("agent-", i), Role: "agent", Action: "ticket.view", Target: fmt.Sprint("t_", j)}
				errs <- rs[i%2].AppendAudit(ctx, r)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	v, err := rs[1].VerifyAudit(ctx)
	if err != nil || v.Break != nil || v.Records != 4*per || v.First != 1 || v.Last != 4*per {
		t.Fatalf("VerifyAudit = %+v (break %+v), %v", v, v.Break, err)
	}
	recs, err := rs[0].AuditRecords(ctx, 0)
	if err != nil || len(recs) != 4*per || recs[len(recs)-1].Hash != v.Head {
		t.Errorf("AuditRecords: %d records, %v", len(recs), err)
	}
}

// The same audit log on the embedded store and on PostgreSQL: the same
// chain (hashes and all) and the same pages for the same queries.
func TestAuditMatchesEmbedded(t *testing.T) {
	ctx := context.Background()
	pg := openTest(t)
	bolt, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := range 25 {
		r := store.AuditRecord{
			At:     start.Add(time.Duration(i) * time.Minute),
			Actor:  []string{"alice", "bob", "ops <admin>"}[i%3],
			Role:   []string{"agent", "agent", "admin"}[i%3],
			Action: []string{"ticket.view", "ticket.claim", "customer.erase", "analytics.view"}[i%4],
			Target: fmt.Sprint("t_", i),
			Detail: strings.Repeat("é", 150), // cut to 200 bytes at a character boundary
		}
		for _, s := range []interface {
			AppendAudit(context.Context, store.AuditRecord) error
		}{bolt, pg} {
			if err := s.AppendAudit(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	bv, _ := bolt.VerifyAudit(ctx)
	pv, err := pg.VerifyAudit(ctx)
	if err != nil || pv.Break != nil || fmt.Sprint(pv) != fmt.Sprint(bv) {
		t.Fatalf("VerifyAudit: postgres %+v, %v; embedded %+v", pv, err, bv)
	}
	queries := []store.AuditQuery{
		{},
		{Limit: 7},
		{Limit: 7, After: 7},
		{Limit: 7, After: 21},
		{Actor: "bob"},
		{Actor: "bob", Limit: 3, After: 5},
		{Action: "customer.erase"},
		{Actor: "ops <admin>", Action: "ticket.claim"},
		{Since: start.Add(10 * time.Minute), Until: start.Add(15 * time.Minute)},
		{Since: start.Add(10*time.Minute + time.Nanosecond), Until: start.Add(15*time.Minute + time.Nanosecond)},
		{Actor: "nobody"},
		{Action: "a\x00b"},
		{After: 1 << 63},
		{Limit: 5000},
	}
	for _, q := range queries {
		want, err := bolt.Audit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pg.Audit(ctx, q)
		if err != nil {
			t.Fatalf("Audit(%+v): %v", q, err)
		}
		if g, w := pageString(got), pageString(want); g != w {
			t.Errorf("Audit(%+v):\npostgres %s\nembedded %s", q, g, w)
		}
	}
	for _, limit := range []int{0, 1, 10, 100} {
		want, _ := bolt.AuditRecords(ctx, limit)
		got, err := pg.AuditRecords(ctx, limit)
		if err != nil || pageString(store.AuditPage{Records: got}) != pageString(store.AuditPage{Records: want}) {
			t.Errorf("AuditRecords(%d) differs from the embedded store's (%v)", limit, err)
		}
	}
}

func pageString(p store.AuditPage) string {
	var b strings.Builder
	for _, r := range p.Records {
		fmt.Fprintf(&b, "%d %s %s %s %s %s %s %s|", r.Seq, r.At.Format(time.RFC3339Nano), r.Actor, r.Action, r.Target, r.Detail, r.Prev, r.Hash)
	}
	fmt.Fprintf(&b, "next %d", p.Next)
	return b.String()
}

// Someone with write access to the database, without the key, edits the
// log: VerifyAudit finds where.
func TestAuditTamperDetected(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		sql     string
		seq     uint64
		because string
	}{
		{"removed", `DELETE FROM audit_log WHERE seq = 3`, 3, "missing"},
		{"removed at the end", `DELETE FROM audit_log WHERE seq = 5`, 5, "missing at the end"},
		{"a byte flipped", `UPDATE audit_log SET body = set_byte(body, length(body) - 1, get_byte(body, length(body) - 1) # 1) WHERE seq = 2`, 2, "does not open"},
		{"swapped", `UPDATE audit_log SET body = CASE seq WHEN 2 THEN (SELECT body FROM audit_log WHERE seq = 3) ELSE (SELECT body FROM audit_log WHERE seq = 2) END WHERE seq IN (2, 3)`, 2, "does not open"},
		{"renumbered", `UPDATE audit_log SET seq = 9 WHERE seq = 5`, 9, "does not open"},
		{"action column edited", `UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 4`, 4, "columns do not match"},
		{"head moved back", `UPDATE audit_head SET seq = 3`, 5, "behind"},
		{"head edited", `UPDATE audit_head SET hash = 'x'`, 5, "head does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			for _, a := range []string{"ticket.list", "ticket.view", "ticket.claim", "ticket.reply", "ticket.close"} {
				if err := s.AppendAudit(ctx, store.AuditRecord{Actor: "alice", Role: "agent", Action: a}); err != nil {
					t.Fatal(err)
				}
			}
			if v, _ := s.VerifyAudit(ctx); v.Break != nil || v.Records != 5 {
				t.Fatalf("before tampering: %+v", v)
			}
			if _, err := s.Pool().Exec(ctx, tt.sql); err != nil {
				t.Fatal(err)
			}
			v, err := s.VerifyAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if v.Break == nil || v.Break.Seq != tt.seq || !strings.Contains(v.Break.Reason, tt.because) {
				t.Errorf("verify = %+v, want a break at %d because %q", v.Break, tt.seq, tt.because)
			}
		})
	}
}

// Tickets, events and audit records are sealed: nothing the shopper or the
// agent wrote is readable in the tables.
func TestTicketTablesSealed(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	c, _ := s.CreateConversation(ctx, "cust-secret", "web")
	if _, _, err := s.OpenTicket(ctx, c.ID, func(x *store.Ticket, _ bool) (*store.OutboxEvent, error) {
		x.Reason, x.Priority, x.Team, x.Summary = "requested", store.PriorityNormal, "support", "summary-secret"
		x.Packet = json.RawMessage(`{"transcript":"packet-secret"}`)
		return &store.OutboxEvent{ID: "ev-1", Body: json.RawMessage(`{"text":"event-secret"}`)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.OutboxFailed(ctx, "ev-1", time.Now(), "error-secret"); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, store.AuditRecord{Actor: "alice-secret", Role: "agent", Action: "ticket.view", Target: "target-secret"}); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"tickets", "outbox", "audit_log", "audit_head"} {
		var dump string
		if err := s.Pool().QueryRow(ctx, `SELECT string_agg(t::text, ' ') FROM `+table+` t`).Scan(&dump); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(dump, "secret") {
			t.Errorf("table %s holds plain text: %s", table, dump)
		}
	}
}

// A store whose only records are audit records, opened with another key,
// says so at once.
func TestOpenWrongKeyAuditOnly(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s := openOn(t, dsn, testRing(t))
	if err := s.AppendAudit(context.Background(), store.AuditRecord{Actor: "ops", Action: "retention.run"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := postgres.Open(context.Background(), dsn, testRing(t), postgres.Options{}); kefu.ErrorCode(err) != kefu.EUnavailable {
		t.Fatalf("open with another key: %v, want unavailable", err)
	}
}

// tripCounter counts what the store sends: each statement alone and each
// batch (pipelined statements) is one round trip.
type tripCounter struct{ n atomic.Int64 }

func (q *tripCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}
func (q *tripCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (q *tripCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	q.n.Add(1)
	return ctx
}
func (q *tripCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (q *tripCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// A ticket change is two round trips (lock and read; write and commit),
// with the change run in between; an outbox write is one; an audit record
// is two (lock the head and read it; write and commit).
func TestRoundTripsPerWrite(t *testing.T) {
	var q tripCounter
	s, err := postgres.Open(context.Background(), pgtest.NewDatabase(t), testRing(t), postgres.Options{MaxConns: 1, Tracer: &q})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	n := 0
	ev := func() *store.OutboxEvent {
		n++
		id := fmt.Sprint("ev-", n)
		return &store.OutboxEvent{ID: id, Body: evBody(id, "")}
	}
	var tk store.Ticket
	writes := []struct {
		name  string
		trips int64
		write func() error
	}{
		{"OpenTicket, new", 2, func() error {
			c, err := s.CreateConversation(ctx, "cust-1", "web")
			if err != nil {
				return err
			}
			tk, _, err = s.OpenTicket(ctx, c.ID, func(x *store.Ticket, _ bool) (*store.OutboxEvent, error) {
				x.Reason, x.Priority = "requested", store.PriorityNormal
				return ev(), nil
			})
			return err
		}},
		{"OpenTicket, existing", 2, func() error {
			_, _, err := s.OpenTicket(ctx, tk.ConversationID, func(x *store.Ticket, _ bool) (*store.OutboxEvent, error) { return ev(), nil })
			return err
		}},
		{"UpdateTicket", 2, func() error {
			_, err := s.UpdateTicket(ctx, tk.ID, func(x *store.Ticket) (*store.OutboxEvent, error) { return ev(), nil })
			return err
		}},
		{"Enqueue", 1, func() error { return s.Enqueue(ctx, *ev()) }},
		{"DueOutbox", 1, func() error { _, err := s.DueOutbox(ctx, time.Now(), 0); return err }},
		{"OutboxFailed", 1, func() error { return s.OutboxFailed(ctx, "ev-1", time.Now(), "503") }},
		{"OutboxDelivered", 1, func() error { return s.OutboxDelivered(ctx, "ev-2") }},
		{"AppendAudit", 2, func() error { return s.AppendAudit(ctx, store.AuditRecord{Actor: "alice", Action: "ticket.view"}) }},
	}
	for _, w := range writes { // warm up: each statement prepared once
		if err := w.write(); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
	}
	for _, w := range writes {
		before := q.n.Load()
		if err := w.write(); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		got := q.n.Load() - before
		if w.name == "OpenTicket, new" {
			got-- // CreateConversation
		}
		if got != w.trips {
			t.Errorf("%s took %d round trips, want %d", w.name, got, w.trips)
		}
	}
}
