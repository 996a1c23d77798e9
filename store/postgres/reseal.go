package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/seal"
	"github.com/kefuhq/kefu/store"
)

// sealHead is how many bytes a sealed value begins with that name its
// format and key: the version byte and the 4-byte key id.
const sealHead = 5

// SealStatus counts the store's records by the key that sealed them
// (seal.FormatID of the key id), "plaintext" for any body that is not
// sealed, across every sealed table, from one snapshot. PostgreSQL counts:
// no body leaves the server.
func (s *Store) SealStatus(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := s.snapshot(ctx, func(tx pgx.Tx) error {
		for _, c := range sealedTables {
			// Bodies are grouped by their head and their length up to
			// seal.Overhead: enough to tell, as seal.SealedKeyID does,
			// whether each is sealed and by which key.
			rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT substring(%[2]s from 1 for $1), least(length(%[2]s), $2), count(*)
FROM %[1]s WHERE %[2]s IS NOT NULL GROUP BY 1, 2`, c.table, c.column),
				sealHead, seal.Overhead)
			if err != nil {
				return fmt.Errorf("read %s: %w", c.table, err)
			}
			for rows.Next() {
				var head []byte
				var n, count int
				if err := rows.Scan(&head, &n, &count); err != nil {
					rows.Close()
					return fmt.Errorf("read %s: %w", c.table, err)
				}
				like := make([]byte, max(n, len(head)))
				copy(like, head)
				if id, ok := seal.SealedKeyID(like); ok {
					out[seal.FormatID(id)] += count
				} else {
					out["plaintext"] += count
				}
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("read %s: %w", c.table, err)
			}
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("seal status: %w", err)
	}
	return out, nil
}

// ResealBatch is how many records Reseal rewrites per transaction.
const ResealBatch = store.ResealBatch

// Reseal rewrites every record that is not sealed under the keyring's
// current key (a record sealed with a retired key, or a body that is not
// sealed) sealed under it, ResealBatch records per transaction, and
// returns how many it rewrote. progress, when not nil, is called after
// each batch that rewrote any with the running count. A run stopped
// half-way (ctx, a crash) keeps what it did; running it again finishes the
// rest.
//
// Each table is walked in key order: a query finds the next batch of keys
// whose bodies need it (the server compares their heads; no body is sent),
// then one transaction locks those rows, in key order, and rewrites the
// ones that still need it. Replicas running Reseal at once, or writing
// meanwhile, therefore never rewrite a record twice nor lose a write: the
// count is of records this call rewrote. Unlike the embedded store, no
// mark of a finished pass lets a later run skip the walk, since another
// replica may still seal with a key this one has retired.
func (s *Store) Reseal(ctx context.Context, progress func(done int)) (int, error) {
	current := s.ring.Seal(nil, nil, nil)[:sealHead]
	done := 0
	for _, c := range sealedTables {
		after := ""
		for {
			if err := ctx.Err(); err != nil {
				return done, err
			}
			ids, err := s.resealCandidates(ctx, c, after, current)
			if err != nil {
				return done, fmt.Errorf("re-encrypt records: %w", err)
			}
			if len(ids) == 0 {
				break
			}
			n, err := s.resealBatch(ctx, c, ids)
			if err != nil {
				return done, fmt.Errorf("re-encrypt records: %w", err)
			}
			done += n
			if n > 0 && progress != nil {
				progress(done)
			}
			if len(ids) < ResealBatch {
				break
			}
			after = ids[len(ids)-1]
		}
	}
	return done, nil
}

// resealCandidates returns the next ResealBatch keys of c's table after
// after whose values in c are not sealed under the key current begins
// with.
func (s *Store) resealCandidates(ctx context.Context, c sealedColumn, after string, current []byte) ([]string, error) {
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`
SELECT %[2]s::text FROM %[1]s
WHERE %[2]s::text > $1 AND %[3]s IS NOT NULL AND NOT (length(%[3]s) >= $2 AND substring(%[3]s from 1 for $3) = $4)
ORDER BY %[2]s::text
LIMIT $5`, c.table, c.key, c.column), after, seal.Overhead, sealHead, current, ResealBatch)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", c.table, err)
	}
	return ids, nil
}

// resealBatch rewrites, in one transaction, the values in c of the rows
// ids that still need it, and returns how many it rewrote.
func (s *Store) resealBatch(ctx context.Context, c sealedColumn, ids []string) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT %[2]s::text, %[3]s FROM %[1]s
WHERE %[2]s::text = ANY($1) AND %[3]s IS NOT NULL ORDER BY %[2]s::text FOR UPDATE`, c.table, c.key, c.column), ids)
		if err != nil {
			return err
		}
		var keys []string
		var bodies [][]byte
		for rows.Next() {
			var id string
			var body []byte
			if err := rows.Scan(&id, &body); err != nil {
				rows.Close()
				return err
			}
			if !s.ring.NeedsReseal(body) {
				continue // a writer or another replica was first
			}
			plain := body
			if seal.IsSealed(body) {
				if plain, err = s.ring.Open(nil, body, place(c.place, id)); err != nil {
					rows.Close()
					if errors.Is(err, seal.ErrUnknownKey) {
						return kefu.WrapError(kefu.EUnavailable,
							"a stored record is sealed with an encryption key that is not configured", err)
					}
					return fmt.Errorf("record %s/%s: %w", c.table, id, err)
				}
			}
			keys = append(keys, id)
			bodies = append(bodies, s.ring.Seal(nil, plain, place(c.place, id)))
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		tag, err := tx.Exec(ctx, fmt.Sprintf(`
UPDATE %[1]s t SET %[3]s = u.body
FROM unnest($1::text[], $2::bytea[]) AS u (k, body)
WHERE t.%[2]s::text = u.k`, c.table, c.key, c.column), keys, bodies)
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", c.table, err)
	}
	return n, nil
}
