package hosted

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// result is one scored document of a reply: its index in the request's
// documents and its relevance score.
type result struct {
	index int
	score float64
}

// wireResult is a result as the services write it: Cohere and Jina call
// the score relevance_score, text-embeddings-inference score.
type wireResult struct {
	Index          *json.Number `json:"index"`
	RelevanceScore *json.Number `json:"relevance_score"`
	Score          *json.Number `json:"score"`
}

// decodeReply reads a 2xx reply of dialect d to a request of n documents.
// It fails on anything but the dialect's shape: JSON that does not parse
// or holds more than one value, no results, an index that is missing, not
// a whole number, outside 0..n-1 or given twice, a score that is missing
// or not a finite number, more results than documents.
func decodeReply(d Dialect, raw []byte, n int) ([]result, error) {
	var list []wireResult
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var err error
	if d == TEI {
		err = dec.Decode(&list)
	} else {
		var reply struct {
			Results *[]wireResult `json:"results"`
		}
		if err = dec.Decode(&reply); err == nil {
			if reply.Results == nil {
				return nil, errors.New(`malformed reply: no "results"`)
			}
			list = *reply.Results
		}
	}
	if err != nil {
		return nil, fmt.Errorf("malformed reply: %s", jsonReason(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("malformed reply: data after the JSON value")
	}
	if len(list) == 0 {
		return nil, errors.New("the reply holds no results")
	}
	if len(list) > n {
		return nil, fmt.Errorf("malformed reply: %d results for %d documents", len(list), n)
	}
	seen := make([]bool, n)
	out := make([]result, len(list))
	for i, w := range list {
		if w.Index == nil {
			return nil, fmt.Errorf("malformed reply: result %d has no index", i)
		}
		idx, err := w.Index.Int64()
		if err != nil {
			return nil, fmt.Errorf("malformed reply: result %d has index %s, not a whole number", i, clip(w.Index.String(), 32))
		}
		if idx < 0 || idx >= int64(n) {
			return nil, fmt.Errorf("malformed reply: result %d has index %d, outside 0..%d", i, idx, n-1)
		}
		if seen[idx] {
			return nil, fmt.Errorf("malformed reply: index %d is given twice", idx)
		}
		seen[idx] = true
		num := w.Score
		if d != TEI {
			num = w.RelevanceScore
		}
		if num == nil {
			return nil, fmt.Errorf("malformed reply: result %d has no score", i)
		}
		score, err := num.Float64()
		if err != nil || math.IsNaN(score) || math.IsInf(score, 0) {
			return nil, fmt.Errorf("malformed reply: result %d has score %s, not a finite number", i, clip(num.String(), 32))
		}
		out[i] = result{index: int(idx), score: score}
	}
	return out, nil
}

// jsonReason words a decoding error without echoing the reply.
func jsonReason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("%s is a JSON %s", typ.Field, typ.Value)
		}
		return fmt.Sprintf("the reply is a JSON %s", typ.Value)
	}
	return "invalid JSON: " + clip(err.Error(), 100)
}
