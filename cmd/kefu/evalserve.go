package main

import (
	"bytes"
	"context"
	"time"

	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/eval"
	demoshop "github.com/kefuhq/kefu/examples/demo-shop"
)

// shopEval runs a golden set through the pipeline for the dashboard,
// bounded by timeout.
type shopEval struct {
	p       eval.Answerer
	cases   []eval.Case
	timeout time.Duration
}

func (e *shopEval) Evaluate(ctx context.Context) (eval.Report, error) {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	return eval.Run(ctx, e.p, e.cases, gateK)
}

// shopEvaluator is the dashboard's evaluation: the golden set that
// ingest.golden names, or under --demo the demo shop's; nil with neither.
// Its runs are bounded like the gate's (ingest.gate_timeout).
func shopEvaluator(cfg Config, demo bool, p eval.Answerer) (api.Evaluator, error) {
	var cases []eval.Case
	var err error
	switch {
	case cfg.Ingest.Golden != "":
		cases, err = eval.LoadFile(cfg.Ingest.Golden)
	case demo:
		cases, err = eval.Load(bytes.NewReader(demoshop.Golden))
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	timeout := cfg.Ingest.GateTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	return &shopEval{p: p, cases: cases, timeout: timeout}, nil
}
