// Package pgtest gives tests a fresh, empty PostgreSQL database of their
// own. It needs a server: KEFU_TEST_POSTGRES_DSN names one (its
// maintenance database; scripts/pg-start.sh starts one and prints it), and
// tests skip when it is unset, so that `go test ./...` passes on a machine
// without PostgreSQL. Set KEFU_TEST_POSTGRES_REQUIRED=1 (CI does) to make a
// missing server a failure instead of a skip.
package pgtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN is the variable that names the test server.
const EnvDSN = "KEFU_TEST_POSTGRES_DSN"

// AdminDSN returns the test server's maintenance DSN, skipping the test
// when none is configured (failing it when KEFU_TEST_POSTGRES_REQUIRED=1).
func AdminDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		if os.Getenv("KEFU_TEST_POSTGRES_REQUIRED") == "1" {
			t.Fatalf("%s is not set and KEFU_TEST_POSTGRES_REQUIRED=1: start a server with scripts/pg-start.sh", EnvDSN)
		}
		t.Skipf("no PostgreSQL for this test: set %s (scripts/pg-start.sh prints one)", EnvDSN)
	}
	return dsn
}

// NewDatabase creates an empty database for this test and returns its
// DSN; the database is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := AdminDSN(t)
	name := "kefu_t_" + strings.ToLower(rand.Text()[:16])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL (%s): %v", EnvDSN, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// withDatabase returns dsn (a URL or a key=value string) naming database
// name instead of its own.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("%s is not a valid URL: %w", EnvDSN, err)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	return dsn + " dbname=" + name, nil
}
