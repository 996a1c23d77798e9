package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Messages written on one replica reach the streams shoppers hold open on
// another through PostgreSQL's LISTEN/NOTIFY: a notification carries only
// ids (the writing replica's, the conversation's and the message's), never
// content, and each listener reads the message from the store.

// messagesChannel is the notification channel of stored messages.
const messagesChannel = "kefu_messages"

// listenRetry is how long a listener waits before reconnecting.
const listenRetry = time.Second

// newOrigin names this process in the notifications it sends.
func newOrigin() string { return rand.Text()[:12] }

// PublishMessage tells every replica listening (ListenMessages) that
// conversationID has a new message messageID.
func (s *Store) PublishMessage(ctx context.Context, conversationID, messageID string) error {
	if !validID(conversationID) || !validID(messageID) || strings.Contains(conversationID+messageID, " ") {
		return fmt.Errorf("publish message: invalid ids")
	}
	_, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, messagesChannel, s.origin+" "+conversationID+" "+messageID)
	if err != nil {
		return fmt.Errorf("publish message: %w", err)
	}
	return nil
}

// ListenMessages calls fn with each message another process published,
// until ctx ends, on a connection of its own. When the connection is lost
// it reconnects and then calls fn("", "") once: messages published in
// between were missed, and whoever waits for them should read the store.
// It returns ctx's error.
func (s *Store) ListenMessages(ctx context.Context, fn func(conversationID, messageID string)) error {
	for first := true; ; first = false {
		err := s.listen(ctx, func() {
			if !first {
				fn("", "")
			}
		}, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = err // the connection was lost; try again
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(listenRetry):
		}
	}
}

// listen holds one listening connection until it fails or ctx ends;
// listening is called once the LISTEN is in place.
func (s *Store) listen(ctx context.Context, listening func(), fn func(conversationID, messageID string)) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+messagesChannel); err != nil {
		return err
	}
	listening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		origin, rest, ok := strings.Cut(n.Payload, " ")
		if !ok || origin == s.origin {
			continue
		}
		conv, msg, ok := strings.Cut(rest, " ")
		if !ok || !validID(conv) || !validID(msg) {
			continue
		}
		fn(conv, msg)
	}
}

// errNotLeader is RunExclusive's report of a lock held elsewhere.
var errNotLeader = errors.New("held by another process")

// RunExclusive runs job(ctx) in at most one process of all those sharing
// the database at a time, the one that holds PostgreSQL advisory lock name
// (a session lock on a connection of its own): the others wait and take
// over within retry when the holder stops or dies (its connection closes
// and the server releases the lock). job's context ends when ctx does or
// the lock's connection is lost. RunExclusive returns when ctx ends.
func (s *Store) RunExclusive(ctx context.Context, name string, retry time.Duration, job func(ctx context.Context)) {
	for {
		err := s.holdLock(ctx, name, retry, job)
		if ctx.Err() != nil {
			return
		}
		_ = err // not the holder, or the connection was lost
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}

func (s *Store) holdLock(ctx context.Context, name string, check time.Duration, job func(ctx context.Context)) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, "kefu:"+name).Scan(&got); err != nil {
		return err
	}
	if !got {
		return errNotLeader
	}
	jctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); job(jctx) }()
	// Hold the connection, checking it is alive: once it is gone the lock
	// is too, and another process may have taken it.
	tick := time.NewTicker(check)
	defer tick.Stop()
	for {
		select {
		case <-done:
			cancel()
			return nil
		case <-ctx.Done():
			cancel()
			<-done
			return ctx.Err()
		case <-tick.C:
			if err := conn.Ping(ctx); err != nil {
				cancel()
				<-done
				return err
			}
		}
	}
}
