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

// spend adds the time since start to the field of ctx's Timing that add
// picks; without a Timing it does nothing.
func spend(ctx context.Context, start time.Time, add func(t *Timing) *time.Duration) {
	if t, ok := ctx.Value(timingKey{}).(*Timing); ok {
		*add(t) += time.Since(start)
	}
}

func retrievalTime(t *Timing) *time.Duration { return &t.Retrieval }
func modelTime(t *Timing) *time.Duration     { return &t.Model }
