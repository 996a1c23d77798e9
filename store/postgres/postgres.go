// Package postgres is the conversation store on PostgreSQL: conversations,
// messages, tickets, the outbox, feedback, proposals and the audit log of a
// shop whose kefu runs as several replicas. It behaves as the embedded
// store (package store) does, checked by the same conformance suites
// (package store/storetest), and seals every record with the shop's keyring
// the same way: a table's body column is the record's JSON sealed for its
// table and id, and the other columns hold only what queries need (ids,
// times, states, sequence numbers and pseudonyms of customer ids).
//
// The schema is versioned by the migrations embedded in the binary
// (migrations/*.sql, applied by goose); Open applies the pending ones,
// under a PostgreSQL advisory lock, so replicas that start together
// migrate once.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/seal"
)

//go:embed migrations/*.sql
var migrations embed.FS

// openTimeout bounds connecting and migrating in Open.
const openTimeout = 30 * time.Second

// Store is the PostgreSQL conversation store. It is safe for concurrent
// use, by goroutines and by processes sharing the database.
type Store struct {
	pool   *pgxpool.Pool
	ring   *seal.Keyring
	now    func() time.Time
	origin string // this process in notifications
}

// Options configures Open.
type Options struct {
	// MaxConns bounds the connection pool; 0 is pgxpool's default (the
	// larger of 4 and the number of CPUs).
	MaxConns int32
	// Now is the clock; nil is time.Now. Tests set it.
	Now func() time.Time
	// Tracer, when set, sees every query of the store's pool (tests count
	// round trips with it; OpenTelemetry could record them).
	Tracer pgx.QueryTracer
}

// Open connects to the database dsn names, applies the pending migrations
// and returns the store, sealing records with ring. It fails with a
// kefu.EUnavailable error when the server cannot be reached and with a
// kefu.EInvalid one when dsn does not parse (the error never repeats the
// DSN, which may hold a password; pgx's connection errors name the host,
// user and database, never the password).
func Open(ctx context.Context, dsn string, ring *seal.Keyring, o Options) (*Store, error) {
	if ring == nil {
		return nil, kefu.Errorf(kefu.EInvalid, "postgres store: an encryption keyring is required")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, kefu.Errorf(kefu.EInvalid, "postgres store: the DSN does not parse (check store.postgres.dsn)")
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	cfg.ConnConfig.Tracer = o.Tracer
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, kefu.WrapError(kefu.EUnavailable, "postgres store: cannot connect", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, kefu.WrapError(kefu.EUnavailable, "postgres store: cannot connect", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, ring: ring, now: time.Now, origin: newOrigin()}
	if o.Now != nil {
		s.now = o.Now
	}
	if err := s.checkKeys(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Migrate applies the pending migrations to the database dsn names and
// reports the schema version before and after.
func Migrate(ctx context.Context, dsn string) (from, to int64, err error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return 0, 0, kefu.Errorf(kefu.EInvalid, "postgres store: the DSN does not parse (check store.postgres.dsn)")
	}
	cfg.MaxConns = 2
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return 0, 0, kefu.WrapError(kefu.EUnavailable, "postgres store: cannot connect", err)
	}
	defer pool.Close()
	p, err := provider(pool)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres store: migrations: %w", err)
	}
	defer p.Close()
	from, _ = p.GetDBVersion(ctx) // an empty database has no version table yet: 0
	if _, err := p.Up(ctx); err != nil {
		return 0, 0, fmt.Errorf("postgres store: apply migrations: %w", err)
	}
	to, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres store: read the schema version: %w", err)
	}
	return from, to, nil
}

// SchemaVersion is the newest migration embedded in this binary.
func SchemaVersion() int64 {
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	var v int64
	for _, n := range names {
		var n64 int64
		if _, err := fmt.Sscanf(n, "migrations/%d_", &n64); err == nil && n64 > v {
			v = n64
		}
	}
	return v
}

func provider(pool *pgxpool.Pool) (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, stdlib.OpenDBFromPool(pool), sub,
		goose.WithSessionLocker(locker), goose.WithTableName("kefu_schema_versions"))
}

// migrate applies the pending migrations, one replica at a time.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	p, err := provider(pool)
	if err != nil {
		return fmt.Errorf("postgres store: migrations: %w", err)
	}
	defer p.Close()
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres store: apply migrations: %w", err)
	}
	return nil
}

// Close releases the pool. Calls after Close fail.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return kefu.WrapError(kefu.EUnavailable, "the conversation store (PostgreSQL) does not answer", err)
	}
	return nil
}

// Pool is the connection pool, for the parts of a replica that share the
// database with the store (notifications, locks, rate limits).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// place is the additional data a record is sealed with: its table and id,
// so that a sealed value copied to another row does not open.
func place(table, id string) []byte {
	p := make([]byte, 0, len(table)+1+len(id))
	p = append(p, table...)
	p = append(p, 0)
	return append(p, id...)
}

// seal returns v as JSON sealed for its place.
func (s *Store) seal(table, id string, v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return s.ring.Seal(nil, raw, place(table, id)), nil
}

// open decodes the sealed body of table's row id into v.
func (s *Store) open(table, id string, body []byte, v any) error {
	raw, err := s.ring.Open(nil, body, place(table, id))
	if err != nil {
		if errors.Is(err, seal.ErrUnknownKey) {
			return kefu.WrapError(kefu.EUnavailable,
				"a stored record is sealed with an encryption key that is not configured", err)
		}
		return fmt.Errorf("conversation store: record %s/%s: %w", table, id, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("conversation store: corrupt record %s/%s: %w", table, id, err)
	}
	return nil
}

// sealedColumn is one sealed column of a table: what checkKeys,
// SealStatus and Reseal read. key is the row's unique key column, read as
// text, and place the first part of the place each value is sealed for
// (see place); the second is the key as text.
type sealedColumn struct {
	table, key, column, place string
}

// sealedTables are the sealed columns of the store.
var sealedTables = []sealedColumn{
	{"conversations", "id", "body", "conversations"},
	{"messages", "id", "body", "messages"},
}

// registerSealed adds a table whose body is sealed for (table, id).
func registerSealed(table string) { registerSealedKey(table, "id") }

// registerSealedKey adds a table whose body is sealed for (table, the
// row's key column).
func registerSealedKey(table, key string) {
	sealedTables = append(sealedTables, sealedColumn{table, key, "body", table})
}

// registerSealedColumn adds a nullable sealed column, sealed for (place,
// the row's key column).
func registerSealedColumn(table, key, column, place string) {
	sealedTables = append(sealedTables, sealedColumn{table, key, column, place})
}

// checkKeys fails, when the store opens, if the newest record of a sealed
// table was sealed with a key the keyring lacks: a store opened with the
// wrong key says so at once rather than on the first read.
func (s *Store) checkKeys(ctx context.Context) error {
	for _, c := range sealedTables {
		var body []byte
		err := s.pool.QueryRow(ctx, "SELECT "+c.column+" FROM "+c.table+" WHERE "+c.column+" IS NOT NULL ORDER BY ctid DESC LIMIT 1").Scan(&body)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("postgres store: read %s: %w", c.table, err)
		}
		if id, ok := seal.SealedKeyID(body); ok && !keyKnown(s.ring, id) {
			return kefu.Errorf(kefu.EUnavailable,
				"stored records are sealed with encryption key %s, which is not configured (KEFU_ENCRYPTION_KEY or store.encryption_key_file)",
				seal.FormatID(id))
		}
	}
	return nil
}

func keyKnown(r *seal.Keyring, id uint32) bool {
	for _, k := range r.IDs() {
		if k == id {
			return true
		}
	}
	return false
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
