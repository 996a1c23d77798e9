// Package eval scores kefu's answering pipeline on a golden set: retrieval
// hit rates and MRR against each case's evidence strings, answer checks,
// whether the pipeline answered, escalated or refused as expected, leaks of
// forbidden strings, and latency. A Gate turns a report into a pass or fail
// for CI.
package eval
