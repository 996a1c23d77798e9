package tokens

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/base64"
	"fmt"
	"io"
	"path"
	"strconv"
)

// cl100kRanks is OpenAI's published cl100k_base BPE ranks file (one
// "base64-token rank" line per token), gzipped. Only the encoding kefu
// measures with is compiled in: the loader module tiktoken-go ships with
// embeds four encodings, 6.9 MB, three of which kefu never uses.
//
//go:embed cl100k_base.tiktoken.gz
var cl100kRanks []byte

// rankCount is how many tokens cl100k_base has (not counting its special
// tokens); a file that yields another count is refused.
const rankCount = 100256

// offlineLoader is a tiktoken.BpeLoader that reads the ranks compiled into
// the binary instead of downloading them.
type offlineLoader struct{}

// LoadTiktokenBpe returns the ranks of the file named at the end of url;
// only cl100k_base is compiled in.
func (offlineLoader) LoadTiktokenBpe(url string) (map[string]int, error) {
	if name := path.Base(url); name != EncodingName+".tiktoken" {
		return nil, fmt.Errorf("tokenizer ranks %s are not compiled into kefu (only %s is)", name, EncodingName)
	}
	return parseRanks(cl100kRanks)
}

// parseRanks reads a gzipped ranks file.
func parseRanks(gz []byte) (map[string]int, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("tokenizer ranks: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("tokenizer ranks: %w", err)
	}
	ranks := make(map[string]int, rankCount)
	buf := make([]byte, 0, 64)
	for n := 1; len(raw) > 0; n++ {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if len(line) == 0 {
			continue
		}
		sp := bytes.IndexByte(line, ' ')
		if sp <= 0 {
			return nil, fmt.Errorf("tokenizer ranks: line %d has no rank", n)
		}
		if need := base64.StdEncoding.DecodedLen(sp); cap(buf) < need {
			buf = make([]byte, need)
		}
		buf = buf[:cap(buf)]
		m, err := base64.StdEncoding.Decode(buf, line[:sp])
		if err != nil {
			return nil, fmt.Errorf("tokenizer ranks: line %d: %w", n, err)
		}
		rank, err := strconv.Atoi(string(line[sp+1:]))
		if err != nil {
			return nil, fmt.Errorf("tokenizer ranks: line %d: %w", n, err)
		}
		ranks[string(buf[:m])] = rank
	}
	if len(ranks) != rankCount {
		return nil, fmt.Errorf("tokenizer ranks: %d tokens, want %d", len(ranks), rankCount)
	}
	return ranks, nil
}
