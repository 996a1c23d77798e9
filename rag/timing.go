package rag

import (
	"context"
	"time"
)

// Timing is how long a turn waited on the services outside kefu: the
// shop's knowledge (query embedding and retrieval, tools' searches
// included) and the language models (the answer model from the request
// until its stream ended, less the time kefu spent on each piece, and the
// helper model). A turn's wall time less these is kefu's own overhead.
type Timing struct {
	Retrieval time.Duration
	Model     time.Duration
}

type timingKey struct{}

// withTiming returns ctx carrying t for the turn's stages to add to. A
// turn runs on one goroutine, so t needs no lock.
func withTiming(ctx context.Context, t *Timing) context.Context {
	return context.WithValue(ctx, timingKey{}, t)
}

// timingOf is the Timing ctx carries, or a spare one that nothing reads.
func timingOf(ctx context.Context) *Timing {
	if t, ok := ctx.Value(timingKey{}).(*Timing); ok {
		return t
	}
	return new(Timing)
}

func (t *Timing) addRetrieval(start time.Time) { t.Retrieval += time.Since(start) }
func (t *Timing) addModel(start time.Time)     { t.Model += time.Since(start) }

// modelWait adds the answer model's share of a pulled stream to Model: the
// waits from asking for a piece to getting it, less any retrieval a tool
// ran meanwhile (which Retrieval has). What kefu does with a piece is
// kefu's own time.
type modelWait struct {
	t        *Timing
	asked    time.Time
	searched time.Duration
	waiting  bool
}

// ask marks that kefu asks for the next piece.
func (w *modelWait) ask() { w.asked, w.searched, w.waiting = time.Now(), w.t.Retrieval, true }

// got marks that the piece (or the end of the stream) came.
func (w *modelWait) got() {
	if w.waiting {
		w.t.Model += time.Since(w.asked) - (w.t.Retrieval - w.searched)
		w.waiting = false
	}
}
