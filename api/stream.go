package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kefuhq/kefu/rag"
)

// pump runs the answerer's stream and hands each event to onEvent, on the
// caller's goroutine: a streamed piece goes from the model's connection to
// the client's without changing goroutines. While the stream is quiet, a
// timer calls onIdle every heartbeat (never when heartbeat is 0); onEvent
// and onIdle never run at the same time. It returns the stream's error,
// the first error of onEvent or onIdle (either stops the stream), or ctx's
// error if ctx ended before the stream did; it returns only once the
// stream has stopped. An answerer that panics fails the turn with an
// error; a panic in onEvent is not caught here.
func (s *Server) pump(ctx context.Context, turn rag.Turn, heartbeat time.Duration,
	onEvent func(rag.Event) error, onIdle func() error) (err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var hb *heartbeats
	if heartbeat > 0 && onIdle != nil {
		hb = startHeartbeats(heartbeat, onIdle, cancel)
		defer func() {
			if idleErr := hb.stop(); idleErr != nil {
				err = idleErr // the cause of the stream's stop
			}
		}()
	}
	inEvent := false
	defer func() {
		if v := recover(); v != nil {
			if inEvent {
				panic(v)
			}
			err = fmt.Errorf("answerer panicked: %v", v)
		}
	}()
	done := false
	for ev, streamErr := range s.answerer.Stream(ctx, turn) {
		if streamErr != nil {
			return streamErr
		}
		inEvent = true
		err = hb.run(func() error { return onEvent(ev) })
		inEvent = false
		if err != nil {
			return err
		}
		done = done || ev.Type == rag.EventDone
	}
	if done {
		return nil // the answer is whole, even if the client left as it ended
	}
	return ctx.Err() // a stream that stopped without its done event was cut short
}

// heartbeats calls onIdle whenever heartbeat passes without an event. Its
// first failure stops the stream (through cancel) and is kept for stop.
// A nil *heartbeats runs events without any.
type heartbeats struct {
	mu      sync.Mutex
	every   time.Duration
	timer   *time.Timer
	onIdle  func() error
	cancel  context.CancelFunc
	err     error
	stopped bool
}

func startHeartbeats(every time.Duration, onIdle func() error, cancel context.CancelFunc) *heartbeats {
	h := &heartbeats{every: every, onIdle: onIdle, cancel: cancel}
	// fire takes the lock, so a heartbeat due before the timer is stored
	// waits for it.
	h.mu.Lock()
	defer h.mu.Unlock()
	h.timer = time.AfterFunc(every, h.fire)
	return h
}

func (h *heartbeats) fire() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped || h.err != nil {
		return
	}
	defer func() {
		// The timer's goroutine is no request's: a panicking write fails
		// this stream, not the process.
		if v := recover(); v != nil {
			h.err = fmt.Errorf("heartbeat panicked: %v", v)
			h.cancel()
		}
	}()
	if h.err = h.onIdle(); h.err != nil {
		h.cancel()
		return
	}
	h.timer.Reset(h.every)
}

// run runs fn, an event's delivery, apart from any heartbeat, and starts
// the wait for the next heartbeat over.
func (h *heartbeats) run(fn func() error) error {
	if h == nil {
		return fn()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return h.err
	}
	err := fn()
	h.timer.Reset(h.every)
	return err
}

// stop ends the heartbeats; after it onIdle is not called again. It
// returns onIdle's failure, if there was one.
func (h *heartbeats) stop() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	h.timer.Stop()
	return h.err
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
