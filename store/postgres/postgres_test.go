package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/internal/pgtest"
	"github.com/kefuhq/kefu/seal"
	"github.com/kefuhq/kefu/store/postgres"
	"github.com/kefuhq/kefu/store/storetest"
)

var (
	_ storetest.Store           = (*postgres.Store)(nil)
	_ storetest.IdempotentStore = (*postgres.Store)(nil)
)

// openTest opens a store on a fresh database of the test server (the test
// skips without one; see internal/pgtest).
func openTest(t *testing.T) *postgres.Store {
	t.Helper()
	return openOn(t, pgtest.NewDatabase(t), testRing(t))
}

func openOn(t *testing.T, dsn string, ring *seal.Keyring) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, ring, postgres.Options{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testRing(t *testing.T) *seal.Keyring {
	t.Helper()
	ring, err := seal.NewKeyring(seal.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return openTest(t) })
}

func TestIdempotency(t *testing.T) {
	storetest.RunIdempotency(t, func(t *testing.T) storetest.IdempotentStore { return openTest(t) })
}

func TestMigrate(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	from, to, err := postgres.Migrate(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if from != 0 || to != postgres.SchemaVersion() || to < 1 {
		t.Errorf("first migrate: %d -> %d, want 0 -> %d", from, to, postgres.SchemaVersion())
	}
	from, to, err = postgres.Migrate(ctx, dsn)
	if err != nil || from != to || to != postgres.SchemaVersion() {
		t.Errorf("second migrate: %d -> %d, %v; want nothing to apply", from, to, err)
	}
	if _, _, err := postgres.Migrate(ctx, "postgres://%zz"); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Errorf("a DSN that does not parse: %v, want invalid", err)
	}
}

// Replicas that start at once migrate once: the others wait for the lock
// and find nothing to apply.
func TestOpenConcurrently(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ring := testRing(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := postgres.Open(context.Background(), dsn, ring, postgres.Options{MaxConns: 2})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// A store opened with keys that do not open its records says so at once.
func TestOpenWrongKey(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s := openOn(t, dsn, testRing(t))
	if _, err := s.CreateConversation(context.Background(), "cust-1", "web"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := postgres.Open(context.Background(), dsn, testRing(t), postgres.Options{})
	if kefu.ErrorCode(err) != kefu.EUnavailable {
		t.Fatalf("open with another key: %v, want unavailable", err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	pgtest.AdminDSN(t) // only where PostgreSQL tests run at all
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://kefu:secret-pw@127.0.0.1:1/kefu?sslmode=disable&connect_timeout=2", testRing(t), postgres.Options{})
	if kefu.ErrorCode(err) != kefu.EUnavailable {
		t.Fatalf("open an unreachable server: %v, want unavailable", err)
	}
	if strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("the error repeats the password: %v", err)
	}
}
