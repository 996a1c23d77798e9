package api

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's Prometheus collectors.
type metrics struct {
	turns       *prometheus.CounterVec   // kefu_chat_turns_total{decision,intent}
	escalations *prometheus.CounterVec   // kefu_escalations_total{reason}
	failures    *prometheus.CounterVec   // kefu_chat_failures_total{code}
	requests    *prometheus.CounterVec   // kefu_http_requests_total{route,status}
	latency     *prometheus.HistogramVec // kefu_chat_duration_seconds{mode}
	overhead    *prometheus.HistogramVec // kefu_chat_overhead_seconds{mode}
}

func newMetrics(reg prometheus.Registerer, version string, log *slog.Logger) *metrics {
	m := &metrics{
		turns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_chat_turns_total",
			Help: "Chat turns answered, by the pipeline's decision and the shopper's intent.",
		}, []string{"decision", "intent"}),
		escalations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_escalations_total",
			Help: "Chat turns handed or offered to a human agent, by reason.",
		}, []string{"reason"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_chat_failures_total",
			Help: "Chat turns whose answer failed or was cut short, by error code.",
		}, []string{"code"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kefu_http_requests_total",
			Help: "HTTP requests, by route and status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kefu_chat_duration_seconds",
			Help:    "Time to answer a chat turn, from the call to the answerer to its last event, by reply mode (json or sse).",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 4, 8, 15, 30, 60},
		}, []string{"mode"}),
		overhead: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kefu_chat_overhead_seconds",
			Help: "kefu's own time in a chat turn that was answered: from the request to the last byte of the reply, " +
				"less the waits for query embedding, retrieval and the models, by reply mode (json or sse).",
			Buckets: []float64{.00025, .0005, .00075, .001, .0015, .002, .003, .004, .005, .0075, .01, .015, .02, .03, .05, .1, .25, .5, 1},
		}, []string{"mode"}),
	}
	m.turns = register(reg, m.turns, log)
	m.escalations = register(reg, m.escalations, log)
	m.failures = register(reg, m.failures, log)
	m.requests = register(reg, m.requests, log)
	m.latency = register(reg, m.latency, log)
	m.overhead = register(reg, m.overhead, log)
	if version != "" {
		info := prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "kefu_build_info",
			Help:        "Always 1; the version label names the running build.",
			ConstLabels: prometheus.Labels{"version": version},
		})
		info.Set(1)
		register(reg, info, log)
	}
	return m
}

// register registers c, or returns the equal collector already registered
// (two Servers on one registry share their metrics). Any other failure is
// logged, and c still counts but is not exported.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, log *slog.Logger) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	log.Warn("metric not registered", "error", err.Error())
	return c
}

// observeTurn records a turn that reached the answerer.
func (m *metrics) observeTurn(a *answer, err error, mode string, elapsed time.Duration) {
	m.turns.WithLabelValues(label(a.meta.Decision), label(a.meta.Intent)).Inc()
	if a.escalation != nil {
		m.escalations.WithLabelValues(label(a.escalation.Reason)).Inc()
	}
	if err != nil {
		m.failures.WithLabelValues(failureCode(err)).Inc()
	}
	m.latency.WithLabelValues(mode).Observe(elapsed.Seconds())
}

// observeOverhead records kefu's own time in an answered turn that began
// at began: its wall time so far less the waits the pipeline reported.
func (m *metrics) observeOverhead(a *answer, mode string, began time.Time) {
	own := time.Since(began) - a.spent.Retrieval - a.spent.Model
	m.overhead.WithLabelValues(mode).Observe(max(own, 0).Seconds())
}

// label keeps a label value short and never empty.
func label(v string) string {
	if v == "" {
		return "none"
	}
	if len(v) > 40 {
		return "other"
	}
	return v
}

// failureCode names a failed turn for the failures metric.
func failureCode(err error) string {
	if errors.Is(err, context.Canceled) {
		return "canceled"
	}
	return errorBody(err).Code
}
