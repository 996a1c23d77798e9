package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds how many writes share one commit.
const maxGroup = 256

// errClosed is what a write gets once the store is closed.
var errClosed = errors.New("the conversation store is closed")

// committer commits writes in groups: one goroutine takes every write
// waiting when it is free and runs them in one bbolt transaction, so the
// writes that arrive while a commit syncs to disk share the next commit and
// its two disk syncs. A write that finds the committer idle is committed at
// once, alone: grouping never waits for company, unlike bbolt's Batch,
// which holds every batch for its MaxBatchDelay.
//
// A write's function may run more than once (when another write of its
// group fails, the group is rolled back and each is run again alone), so it
// must depend only on the transaction and its own inputs, and reset any
// result it sets. Each caller gets the error of its own function.
type committer struct {
	db   *bolt.DB
	reqs chan commitReq
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

type commitReq struct {
	fn  func(*bolt.Tx) error
	res chan error
}

func newCommitter(db *bolt.DB) *committer {
	c := &committer{db: db, reqs: make(chan commitReq), quit: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

// update runs fn in a write transaction shared with the writes waiting
// beside it, and returns fn's error or the commit's. Once handed over, the
// write runs to its end even if ctx ends: the caller learns whether it was
// stored.
func (c *committer) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	r := commitReq{fn: fn, res: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-c.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.res
}

// close stops the committer once the group being committed is done;
// writes after it fail.
func (c *committer) close() {
	c.once.Do(func() { close(c.quit) })
	<-c.done
}

func (c *committer) loop() {
	defer close(c.done)
	group := make([]commitReq, 0, maxGroup)
	for {
		select {
		case r := <-c.reqs:
			group = append(group[:0], r)
		case <-c.quit:
			return
		}
	more:
		for len(group) < maxGroup {
			select {
			case r := <-c.reqs:
				group = append(group, r)
			default:
				break more
			}
		}
		c.commit(group)
		clear(group)
	}
}

// commit runs group in one transaction; if any function fails, the
// transaction is rolled back and every function runs again in its own.
func (c *committer) commit(group []commitReq) {
	if len(group) > 1 {
		err := c.db.Update(func(tx *bolt.Tx) error {
			for _, r := range group {
				if err := safely(r.fn)(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, r := range group {
				r.res <- nil
			}
			return
		}
	}
	for _, r := range group {
		r.res <- c.db.Update(safely(r.fn))
	}
}

// safely is fn with a panic turned into its error: the committer's
// goroutine is no request's, and a panicking write must fail only its
// caller (bbolt rolls the transaction back).
func safely(fn func(*bolt.Tx) error) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("conversation store write panicked: %v", v)
			}
		}()
		return fn(tx)
	}
}
