package llmtest

import "iter"

// Collect reads an answer stream to its end: the pieces in order, and the
// error that ended it (the pieces before it are kept).
func Collect(stream iter.Seq2[string, error]) ([]string, error) {
	var pieces []string
	for p, err := range stream {
		if err != nil {
			return pieces, err
		}
		pieces = append(pieces, p)
	}
	return pieces, nil
}
