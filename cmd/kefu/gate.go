package main

import (
	"context"
	"fmt"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/eval"
	"github.com/kefuhq/kefu/ingest"
	"github.com/kefuhq/kefu/vectordb/embedded"
	"github.com/kefuhq/kefu/vectordb/qdrant"
)

// Both chunk stores read documents back, so either can be gated.
var (
	_ ingest.Snapshotter = (*embedded.Store)(nil)
	_ ingest.Snapshotter = (*qdrant.Store)(nil)
)

// DefaultGateMaxCases bounds the golden set of a knowledge-change gate
// when ingest.gate_max_cases is not set: every change waits for the whole
// set to run through the pipeline.
const DefaultGateMaxCases = 1000

// gateK is the retrieval depth a gate scores hit@k at, as kefu eval's
// default.
const gateK = 10

// goldenGate is the gate on knowledge changes: a golden set and the
// thresholds it must keep, the same files kefu eval --golden --gate reads.
type goldenGate struct {
	gate  eval.Gate
	cases []eval.Case
}

// loadGoldenGate reads a gate file and a golden set. Both are required
// together, and a set of more than maxCases cases (DefaultGateMaxCases
// when 0) is refused, not cut.
func loadGoldenGate(gatePath, goldenPath string, maxCases int) (*goldenGate, error) {
	if (gatePath == "") != (goldenPath == "") {
		return nil, kefu.Errorf(kefu.EInvalid, "a gate needs both its thresholds and a golden set: give --gate FILE and --golden FILE.jsonl together (ingest.gate and ingest.golden)")
	}
	if maxCases <= 0 {
		maxCases = DefaultGateMaxCases
	}
	gate, err := eval.LoadGate(gatePath)
	if err != nil {
		return nil, err
	}
	cases, err := eval.LoadFile(goldenPath)
	if err != nil {
		return nil, err
	}
	if len(cases) > maxCases {
		return nil, kefu.Errorf(kefu.EInvalid, "golden set %s has %d cases, more than the %d a gate may run (ingest.gate_max_cases)", goldenPath, len(cases), maxCases)
	}
	return &goldenGate{gate: gate, cases: cases}, nil
}

// check returns the ingest gate that runs the golden set through p, the
// answering pipeline over the live store, exactly as kefu eval does, and
// reports the thresholds the report breaks and the cases that failed. A
// gate with floors against plain BM25 also ranks the cases with it, over
// the chunks s holds after the change.
func (g *goldenGate) check(p eval.Answerer, s chunkStore) ingest.Gate {
	return ingest.GateFunc(func(ctx context.Context) (ingest.GateReport, error) {
		var opts []eval.Option
		if len(g.gate.MinVsBaseline) > 0 {
			chunks, err := allChunks(ctx, s)
			if err != nil {
				return ingest.GateReport{}, err
			}
			opts = append(opts, eval.WithBaseline(chunks))
		}
		r, err := eval.Run(ctx, p, g.cases, gateK, opts...)
		if err != nil {
			return ingest.GateReport{}, fmt.Errorf("golden set: %w", err)
		}
		rep := ingest.GateReport{Cases: r.Cases, Broken: g.gate.Check(r), Failed: make([]ingest.CaseFailure, len(r.Failures))}
		for i, f := range r.Failures {
			rep.Failed[i] = ingest.CaseFailure{ID: f.ID, Reasons: f.Reasons}
		}
		return rep, nil
	})
}

// gatedOptions adds the configured gate, when there is one, to opts.
func (a *app) gatedOptions(opts ingest.Options, g *goldenGate) ingest.Options {
	if g != nil {
		opts.Gate = g.check(a.pipeline, a.store)
		opts.GateTimeout = a.cfg.Ingest.GateTimeout
	}
	return opts
}

// uploadGate loads the gate on uploads that the configuration names
// (ingest.gate and ingest.golden), or nil when it names none.
func uploadGate(cfg IngestConfig) (*goldenGate, error) {
	if cfg.Gate == "" && cfg.Golden == "" {
		return nil, nil
	}
	return loadGoldenGate(cfg.Gate, cfg.Golden, cfg.GateMaxCases)
}
