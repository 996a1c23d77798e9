package postgres_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/pgtest"
	"github.com/kefuhq/kefu/seal"
	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/store/postgres"
	"github.com/kefuhq/kefu/store/storetest"
)

var _ storetest.ResealStore = (*postgres.Store)(nil)

func TestResealConformance(t *testing.T) {
	storetest.RunReseal(t, func(t *testing.T) storetest.Opener {
		dsn := pgtest.NewDatabase(t)
		return func(ring *seal.Keyring) (storetest.ResealStore, error) {
			s, err := postgres.Open(context.Background(), dsn, ring, postgres.Options{MaxConns: 8})
			if err != nil {
				return nil, err
			}
			return s, nil
		}
	})
}

// Two replicas re-encrypting at once rewrite each record once between
// them.
func TestResealTwoReplicas(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	k1, k2 := seal.GenerateKey(), seal.GenerateKey()
	old := openOn(t, dsn, ring(t, k1))
	const convs, each = 4, 300
	for range convs {
		c, _, err := old.StartConversation(ctx, "cust", "web", store.Message{Role: kefu.RoleUser, Content: "0"})
		if err != nil {
			t.Fatal(err)
		}
		for range each - 1 {
			if _, err := old.AppendMessage(ctx, store.Message{ConversationID: c.ID, Role: kefu.RoleAssistant, Content: "x"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	old.Close()
	replicas := []*postgres.Store{openOn(t, dsn, ring(t, k2, k1)), openOn(t, dsn, ring(t, k2, k1))}
	counts := make([]int, len(replicas))
	errs := make([]error, len(replicas))
	var wg sync.WaitGroup
	for i, r := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], errs[i] = r.Reseal(ctx, nil)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if total := convs * (1 + each); counts[0]+counts[1] != total {
		t.Errorf("the replicas rewrote %d and %d records, want %d between them", counts[0], counts[1], total)
	}
	st, err := replicas[1].SealStatus(ctx)
	if err != nil || len(st) != 1 || st[seal.FormatID(seal.KeyID(k2))] != convs*(1+each) {
		t.Errorf("seal status = %v, %v", st, err)
	}
}

// A body that is not sealed (written by hand, say, or by a tool) is
// counted as plaintext and sealed by Reseal, as the embedded store does
// with its legacy records.
func TestResealPlaintextBody(t *testing.T) {
	ctx := context.Background()
	k := seal.GenerateKey()
	s := openOn(t, pgtest.NewDatabase(t), ring(t, k))
	c, err := s.CreateConversation(ctx, "cust", "web")
	if err != nil {
		t.Fatal(err)
	}
	m := store.Message{ID: "m_PLAIN", ConversationID: c.ID, Role: kefu.RoleUser, Content: "plain words"}
	raw, _ := json.Marshal(m)
	_, err = s.Pool().Exec(ctx, `
WITH c AS (UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq)
INSERT INTO messages (conversation_id, seq, id, role, created_at, body) SELECT $1, c.last_seq, $2, 'user', now(), $3 FROM c`,
		c.ID, m.ID, raw)
	if err != nil {
		t.Fatal(err)
	}
	id := seal.FormatID(seal.KeyID(k))
	if st, err := s.SealStatus(ctx); err != nil || st["plaintext"] != 1 || st[id] != 1 {
		t.Fatalf("seal status = %v, %v; want one plaintext and one sealed", st, err)
	}
	if n, err := s.Reseal(ctx, nil); err != nil || n != 1 {
		t.Fatalf("reseal = %d, %v", n, err)
	}
	if st, err := s.SealStatus(ctx); err != nil || len(st) != 1 || st[id] != 2 {
		t.Errorf("seal status after = %v, %v", st, err)
	}
	if got, err := s.Message(ctx, m.ID); err != nil || got.Content != "plain words" {
		t.Errorf("message after = %+v, %v", got, err)
	}
}

func ring(t *testing.T, keys ...[]byte) *seal.Keyring {
	t.Helper()
	r, err := seal.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Every sealed column is counted and resealed, the ones sealed apart from
// a row's body (a ticket's packet, an outbox event's last error) and the
// tables keyed by something else than an id (staff sessions, the audit
// log) included; a store that then holds only the new key reads them all.
func TestResealEveryColumn(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	k1, k2 := seal.GenerateKey(), seal.GenerateKey()
	old := openOn(t, dsn, ring(t, k1))
	c, err := old.CreateConversation(ctx, "cust", "web")
	if err != nil {
		t.Fatal(err)
	}
	tk, _, err := old.OpenTicket(ctx, c.ID, func(tk *store.Ticket, _ bool) (*store.OutboxEvent, error) {
		tk.Reason, tk.Priority, tk.Team = "requested", store.PriorityNormal, "support"
		tk.Packet = json.RawMessage(`{"summary":"wants a person"}`)
		return &store.OutboxEvent{ID: "ev_1", Body: json.RawMessage(`{"event":"opened"}`)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.OutboxFailed(ctx, "ev_1", time.Now(), "helpdesk said 503"); err != nil {
		t.Fatal(err)
	}
	const session = "0123456789abcdef0123456789abcdef"
	if err := old.StartSession(ctx, session, store.StaffSession{Name: "alice", Role: "agent", CSRF: "csrf", Created: time.Now()}, 10, time.Hour, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := old.AppendAudit(ctx, store.AuditRecord{Actor: "alice", Role: "agent", Action: "ticket.claim", Target: tk.ID}); err != nil {
		t.Fatal(err)
	}
	// conversation, ticket body and packet, event body and last error,
	// session, audit record.
	const records = 7
	before, err := old.SealStatus(ctx)
	if err != nil || before[seal.FormatID(seal.KeyID(k1))] != records || len(before) != 1 {
		t.Fatalf("seal status before = %v, %v; want %d under the old key", before, err, records)
	}
	old.Close()

	both := openOn(t, dsn, ring(t, k2, k1))
	if n, err := both.Reseal(ctx, nil); err != nil || n != records {
		t.Fatalf("reseal = %d, %v; want %d", n, err, records)
	}
	both.Close()

	fresh := openOn(t, dsn, ring(t, k2))
	if st, err := fresh.SealStatus(ctx); err != nil || st[seal.FormatID(seal.KeyID(k2))] != records || len(st) != 1 {
		t.Errorf("seal status after = %v, %v", st, err)
	}
	got, err := fresh.Ticket(ctx, tk.ID)
	if err != nil || string(got.Packet) != `{"summary":"wants a person"}` {
		t.Errorf("ticket after = %+v, %v", got, err)
	}
	due, err := fresh.DueOutbox(ctx, time.Now().Add(time.Hour), 10)
	if err != nil || len(due) != 1 || due[0].LastError != "helpdesk said 503" {
		t.Errorf("outbox after = %+v, %v", due, err)
	}
	if ss, ok, err := fresh.TouchSession(ctx, session, time.Now(), time.Hour, time.Hour); err != nil || !ok || ss.Name != "alice" {
		t.Errorf("session after = %+v, %v, %v", ss, ok, err)
	}
	if v, err := fresh.VerifyAudit(ctx); err != nil || v.Records != 1 || v.Break != nil {
		t.Errorf("audit after = %+v, %v", v, err)
	}
}
