package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kefuhq/kefu/seal"
)

// Token buckets shared by the replicas: each Take is one statement that
// refills the bucket for the time since it was last used (on the
// database's clock, so replicas' clocks need not agree) and takes a token
// when there is one.

// idleBucket is how long an unused bucket is kept; a bucket idle that
// long has refilled (bursts refill in far less), so dropping it changes
// nothing.
const idleBucket = time.Hour

// TakeToken takes one token from the bucket key, which refills at
// perSecond up to burst tokens. When it is empty it returns false and how
// long until a token is there. The key is stored as a pseudonym.
func (s *Store) TakeToken(ctx context.Context, key string, perSecond float64, burst int) (bool, time.Duration, error) {
	if perSecond <= 0 || burst <= 0 || math.IsInf(perSecond, 0) || math.IsNaN(perSecond) {
		return true, 0, nil // no limit
	}
	ref := seal.Fingerprint([]byte(key))
	var left float64
	err := s.pool.QueryRow(ctx, `
INSERT INTO rate_buckets AS b (key, tokens, at) VALUES ($1, $3::float8 - 1, now())
ON CONFLICT (key) DO UPDATE
SET tokens = LEAST($3::float8, b.tokens + EXTRACT(EPOCH FROM (now() - b.at)) * $2::float8) - 1, at = now()
WHERE LEAST($3::float8, b.tokens + EXTRACT(EPOCH FROM (now() - b.at)) * $2::float8) >= 1
RETURNING tokens`, ref, perSecond, float64(burst)).Scan(&left)
	if err == nil {
		return true, 0, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	// Empty: how long until it holds one token.
	var have float64
	err = s.pool.QueryRow(ctx, `
SELECT LEAST($3::float8, tokens + EXTRACT(EPOCH FROM (now() - at)) * $2::float8) FROM rate_buckets WHERE key = $1`,
		ref, perSecond, float64(burst)).Scan(&have)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	wait := time.Duration((1 - have) / perSecond * float64(time.Second))
	return false, max(wait, time.Millisecond), nil
}

// SweepRateBuckets drops the buckets unused for an hour, which are full
// again, and returns how many.
func (s *Store) SweepRateBuckets(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM rate_buckets WHERE at < now() - $1::interval`, idleBucket.String())
	if err != nil {
		return 0, fmt.Errorf("sweep rate limits: %w", err)
	}
	return tag.RowsAffected(), nil
}
