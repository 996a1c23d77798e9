package api

import (
	"context"
	"errors"
	"iter"
	"testing"
	"time"

	"github.com/kefuhq/kefu/rag"
)

type answerFunc func(ctx context.Context, t rag.Turn) iter.Seq2[rag.Event, error]

func (f answerFunc) Stream(ctx context.Context, t rag.Turn) iter.Seq2[rag.Event, error] {
	return f(ctx, t)
}

// TestPumpHeartbeatFailureStopsStream: a client that is gone is noticed by
// a failed heartbeat while the model is quiet; the stream is stopped and
// the heartbeat's error is the turn's.
func TestPumpHeartbeatFailureStopsStream(t *testing.T) {
	stopped := make(chan struct{})
	s := &Server{answerer: answerFunc(func(ctx context.Context, _ rag.Turn) iter.Seq2[rag.Event, error] {
		return func(yield func(rag.Event, error) bool) {
			if !yield(rag.Event{Type: rag.EventMeta, Meta: &rag.Meta{}}, nil) {
				return
			}
			select { // a model that never answers
			case <-ctx.Done():
				close(stopped)
				yield(rag.Event{}, ctx.Err())
			case <-time.After(10 * time.Second):
			}
		}
	})}
	gone := errors.New("write: broken pipe")
	pings, events := 0, 0
	err := s.pump(context.Background(), rag.Turn{}, time.Millisecond,
		func(rag.Event) error { events++; return nil },
		func() error {
			if pings++; pings == 3 {
				return gone
			}
			return nil
		})
	if !errors.Is(err, gone) {
		t.Fatalf("pump = %v, want the heartbeat's error", err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("the stream was not stopped")
	}
	if events != 1 || pings != 3 {
		t.Errorf("%d events, %d pings; want 1 and 3 (no ping after the failure)", events, pings)
	}
}

// TestPumpRecoversAnswererPanic: a panicking answerer fails the turn; a
// panic while delivering an event is the handler's and goes on up.
func TestPumpRecoversAnswererPanic(t *testing.T) {
	s := &Server{answerer: answerFunc(func(context.Context, rag.Turn) iter.Seq2[rag.Event, error] {
		return func(yield func(rag.Event, error) bool) {
			yield(rag.Event{Type: rag.EventDelta, Delta: "a"}, nil)
			var m map[string]int
			m["x"] = 1
		}
	})}
	err := s.pump(context.Background(), rag.Turn{}, 0, func(rag.Event) error { return nil }, nil)
	if err == nil || err.Error() != "answerer panicked: assignment to entry in nil map" {
		t.Errorf("pump = %v", err)
	}
	defer func() {
		if v := recover(); v != "delivery" {
			t.Errorf("recovered %v, want the handler's panic", v)
		}
	}()
	_ = s.pump(context.Background(), rag.Turn{}, time.Hour, func(rag.Event) error { panic("delivery") }, func() error { return nil })
	t.Fatal("a panic in onEvent was swallowed")
}

// TestPumpWholeAnswerWhenTheClientLeavesAtTheEnd: a stream that reached
// its done event is whole, even if the client's context ended as it did;
// one that stopped before it is cut short.
func TestPumpWholeAnswerWhenTheClientLeavesAtTheEnd(t *testing.T) {
	s := &Server{answerer: answerFunc(func(context.Context, rag.Turn) iter.Seq2[rag.Event, error] {
		return func(yield func(rag.Event, error) bool) {
			if yield(rag.Event{Type: rag.EventDelta, Delta: "a"}, nil) {
				yield(rag.Event{Type: rag.EventDone, Done: &rag.Done{Answer: "a"}}, nil)
			}
		}
	})}
	ctx, cancel := context.WithCancel(context.Background())
	err := s.pump(ctx, rag.Turn{}, 0, func(ev rag.Event) error {
		if ev.Type == rag.EventDone {
			cancel() // the client leaves as the last event goes out
		}
		return nil
	}, nil)
	if err != nil {
		t.Errorf("pump = %v, want nil for a whole answer", err)
	}

	quiet := &Server{answerer: answerFunc(func(ctx context.Context, _ rag.Turn) iter.Seq2[rag.Event, error] {
		return func(yield func(rag.Event, error) bool) {
			yield(rag.Event{Type: rag.EventDelta, Delta: "a"}, nil)
			<-ctx.Done() // stops without an error event
		}
	})}
	ctx, cancel = context.WithCancel(context.Background())
	err = quiet.pump(ctx, rag.Turn{}, 0, func(rag.Event) error { cancel(); return nil }, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("pump of a stream cut short = %v, want context.Canceled", err)
	}
}
