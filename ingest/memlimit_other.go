//go:build !linux

package ingest

import "runtime/debug"

// limitMemory has no hard bound outside Linux; the Go runtime's soft
// limit makes the collector work hard near it, and the worker's time
// limit and the character limit bound the rest.
func limitMemory(n int64) error {
	debug.SetMemoryLimit(n)
	return nil
}
