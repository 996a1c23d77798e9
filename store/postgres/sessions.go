package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/store"
)

// Staff sessions shared by the replicas (api.SessionStore). Times are the
// server's clock as the api passes them, as a process's own sessions use
// it; the key is already a digest of the session id.

const tableSessions = "staff_sessions"

func init() { registerSealedKey(tableSessions, "key") }

// maxSessionKeyLen bounds a session key (a hex SHA-256 is 64).
const maxSessionKeyLen = 128

func checkSessionKey(key string) error {
	if key == "" || len(key) > maxSessionKeyLen {
		return kefu.Errorf(kefu.EInvalid, "a session key is 1 to %d bytes", maxSessionKeyLen)
	}
	return nil
}

// sessionBody is what a session row seals.
type sessionBody struct {
	Name string `json:"name"`
	Role string `json:"role"`
	CSRF string `json:"csrf"`
}

// StartSession stores the session s under key and drops the sessions
// expired at its start and, beyond max, the least recently used.
func (s *Store) StartSession(ctx context.Context, key string, ss store.StaffSession, max int, ttl, idle time.Duration) error {
	if err := checkSessionKey(key); err != nil {
		return err
	}
	body, err := s.seal(tableSessions, key, sessionBody{Name: ss.Name, Role: ss.Role, CSRF: ss.CSRF})
	if err != nil {
		return fmt.Errorf("start a session: %w", err)
	}
	at := ss.Created.UTC()
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO staff_sessions (key, created_at, last_seen, body) VALUES ($1, $2, $2, $3)`, key, at, body)
	b.Queue(`DELETE FROM staff_sessions WHERE created_at <= $1 OR last_seen <= $2`, at.Add(-ttl), at.Add(-idle))
	if max > 0 {
		b.Queue(`DELETE FROM staff_sessions WHERE key IN (
SELECT key FROM staff_sessions WHERE key <> $1 ORDER BY last_seen DESC, key OFFSET $2)`, key, max-1)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("start a session: %w", err)
	}
	return nil
}

// TouchSession returns the live session of key, marking it used at now;
// found is false for an unknown or expired one (an expired one is
// dropped).
func (s *Store) TouchSession(ctx context.Context, key string, now time.Time, ttl, idle time.Duration) (store.StaffSession, bool, error) {
	if err := checkSessionKey(key); err != nil {
		return store.StaffSession{}, false, nil
	}
	now = now.UTC()
	var created, seen time.Time
	var body []byte
	err := s.pool.QueryRow(ctx, `
UPDATE staff_sessions SET last_seen = GREATEST(last_seen, $2)
WHERE key = $1 AND created_at > $3 AND last_seen > $4
RETURNING created_at, last_seen, body`, key, now, now.Add(-ttl), now.Add(-idle)).Scan(&created, &seen, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err := s.pool.Exec(ctx, `DELETE FROM staff_sessions WHERE key = $1`, key)
		if err != nil {
			return store.StaffSession{}, false, fmt.Errorf("drop an expired session: %w", err)
		}
		return store.StaffSession{}, false, nil
	}
	if err != nil {
		return store.StaffSession{}, false, fmt.Errorf("read a session: %w", err)
	}
	var sb sessionBody
	if err := s.open(tableSessions, key, body, &sb); err != nil {
		return store.StaffSession{}, false, err
	}
	return store.StaffSession{Name: sb.Name, Role: sb.Role, CSRF: sb.CSRF, Created: created, LastSeen: seen}, true, nil
}

// EndSession removes the session of key, if any.
func (s *Store) EndSession(ctx context.Context, key string) error {
	if err := checkSessionKey(key); err != nil {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM staff_sessions WHERE key = $1`, key); err != nil {
		return fmt.Errorf("end a session: %w", err)
	}
	return nil
}
