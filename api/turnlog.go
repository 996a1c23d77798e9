package api

import (
	"context"
	"log/slog"
	"time"
)

// maxLoggedScores is how many of a turn's best retrieval scores its log
// line gives.
const maxLoggedScores = 3

// turnEnded records a turn that reached the answerer in the metrics and
// writes its debug line: what was decided and why (intent, decision,
// reason, backend, the best retrieval scores) and where the time went,
// with the request id from ctx. The line holds no message text, query or
// customer id, so it may be kept where the conversations may not.
func (s *Server) turnEnded(ctx context.Context, a *answer, err error, mode string, elapsed time.Duration) {
	s.metrics.observeTurn(a, err, mode, elapsed)
	if !s.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("mode", mode),
		slog.String("intent", a.meta.Intent),
		slog.String("decision", a.meta.Decision),
		slog.String("locale", a.meta.Locale),
		slog.String("backend", a.meta.Backend),
		slog.Any("top_scores", a.top),
		slog.Int("citations", len(a.citations)),
		slog.Duration("elapsed", elapsed),
		slog.Duration("retrieval", a.spent.Retrieval),
		slog.Duration("model", a.spent.Model),
	}
	if a.meta.Reason != "" {
		attrs = append(attrs, slog.String("reason", a.meta.Reason))
	}
	if a.escalation != nil {
		attrs = append(attrs, slog.String("escalation", a.escalation.Reason))
	}
	if a.degraded || a.partial {
		attrs = append(attrs, slog.Bool("degraded", a.degraded), slog.Bool("partial", a.partial))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error_code", failureCode(err)))
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "turn", attrs...)
}
