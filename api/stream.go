package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu/rag"
)

// pump runs the answerer's stream on a goroutine of its own and hands each
// event to onEvent on the caller's goroutine, which alone writes to the
// client. While waiting, it calls onIdle every heartbeat (never when
// heartbeat is 0). It returns the stream's error, ctx's error if ctx ends
// first, or the first error of onEvent or onIdle; it returns only once the
// stream has stopped, cancelling it if need be.
func (s *Server) pump(ctx context.Context, turn rag.Turn, heartbeat time.Duration,
	onEvent func(rag.Event) error, onIdle func() error) error {
	ctx, cancel := context.WithCancel(ctx)
	type item struct {
		ev  rag.Event
		err error
	}
	items := make(chan item)
	go func() {
		defer close(items)
		defer func() {
			// A panicking answerer fails this turn, not the process.
			if v := recover(); v != nil {
				select {
				case items <- item{err: fmt.Errorf("answerer panicked: %v", v)}:
				case <-ctx.Done():
				}
			}
		}()
		for ev, err := range s.answerer.Stream(ctx, turn) {
			select {
			case items <- item{ev, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		cancel()
		for range items { // wait for the stream to stop
		}
	}()

	var tick <-chan time.Time
	var ticker *time.Ticker
	if heartbeat > 0 && onIdle != nil {
		ticker = time.NewTicker(heartbeat)
		defer ticker.Stop()
		tick = ticker.C
	}
	for {
		select {
		case it, ok := <-items:
			if !ok {
				return nil
			}
			if it.err != nil {
				return it.err
			}
			if err := onEvent(it.ev); err != nil {
				return err
			}
			if ticker != nil {
				ticker.Reset(heartbeat)
			}
		case <-tick:
			if err := onIdle(); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// sseWriter writes server-sent events and flushes each one. Its first
// write error sticks: after it nothing more is written.
type sseWriter struct {
	w   gin.ResponseWriter
	err error
	buf bytes.Buffer
}

func (s *sseWriter) event(name string, v any) error {
	if s.err != nil {
		return s.err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", name, err)
	}
	s.buf.Reset()
	s.buf.WriteString("event: ")
	s.buf.WriteString(name)
	s.buf.WriteString("\ndata: ")
	s.buf.Write(data) // JSON from encoding/json holds no raw newline
	s.buf.WriteString("\n\n")
	return s.write(s.buf.Bytes())
}

func (s *sseWriter) ping() error {
	if s.err != nil {
		return s.err
	}
	return s.write([]byte(": ping\n\n"))
}

func (s *sseWriter) write(p []byte) error {
	if _, err := s.w.Write(p); err != nil {
		s.err = err
		return err
	}
	s.w.Flush()
	return nil
}
