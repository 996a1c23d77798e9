package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// rollbackTimeout bounds the ROLLBACK of a transaction given up.
const rollbackTimeout = 5 * time.Second

// pipe is a transaction on one connection whose statements go in
// pipelined batches: BEGIN rides with the first batch and COMMIT with the
// last, so a transaction that reads, decides in Go (a ticket change, the
// next link of the audit chain) and writes is two round trips.
type pipe struct {
	conn *pgxpool.Conn
}

func (s *Store) pipe(ctx context.Context) (*pipe, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &pipe{conn: conn}, nil
}

// send sends b, hands its results to read and then reads what read left;
// it returns the first error.
func (p *pipe) send(ctx context.Context, b *pgx.Batch, read func(pgx.BatchResults) error) error {
	br := p.conn.SendBatch(ctx, b)
	err := read(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// close rolls back the transaction when it is still open (an error, or a
// change that refused) and gives the connection back to the pool, which
// drops it when it is in no state to be reused.
func (p *pipe) close() {
	pc := p.conn.Conn().PgConn()
	if !pc.IsClosed() && !pc.IsBusy() && pc.TxStatus() != 'I' {
		ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
		_, _ = p.conn.Exec(ctx, "ROLLBACK")
		cancel()
	}
	p.conn.Release()
}

// optional turns pgx.ErrNoRows into found false.
func optional(err error) (found bool, _ error) {
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// violated returns the constraint a unique_violation error names, or "".
func violated(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return pe.ConstraintName
	}
	return ""
}
