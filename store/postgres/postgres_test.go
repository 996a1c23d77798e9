package postgres_test

import (
	"context"
	"testing"

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
