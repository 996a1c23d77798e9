package postgres

import (
	"context"
	"testing"

	"github.com/kefuhq/kefu/internal/pgtest"
	"github.com/kefuhq/kefu/seal"
	"github.com/kefuhq/kefu/store"
)

// appendAudit chains a record inside the caller's transaction: rolled
// back, it leaves no gap in the chain; an append started while the
// transaction holds the head chains after the transaction's record.
func TestAppendAuditInCallersTransaction(t *testing.T) {
	ctx := context.Background()
	ring, err := seal.NewKeyring(seal.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, pgtest.NewDatabase(t), ring, Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := func(action string) store.AuditRecord {
		return store.AuditRecord{Actor: "ops", Role: "admin", Action: action}
	}
	if err := s.AppendAudit(ctx, rec("first")); err != nil {
		t.Fatal(err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.appendAudit(ctx, tx, rec("rolled.back")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	tx, err = s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := s.appendAudit(ctx, tx, rec("customer.erase")); err != nil {
		t.Fatal(err)
	}
	after := make(chan error, 1)
	go func() { after <- s.AppendAudit(ctx, rec("after")) }()
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-after; err != nil {
		t.Fatal(err)
	}
	recs, err := s.AuditRecords(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Action)
	}
	if len(recs) != 3 || got[0] != "first" || got[1] != "customer.erase" || got[2] != "after" || recs[2].Seq != 3 {
		t.Errorf("audit log = %v", got)
	}
	if v, err := s.VerifyAudit(ctx); err != nil || v.Break != nil || v.Records != 3 {
		t.Errorf("VerifyAudit = %+v (break %+v), %v", v, v.Break, err)
	}
}
