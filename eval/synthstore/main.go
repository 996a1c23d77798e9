// Command synthstore writes a kefu data directory holding a synthetic shop
// of n chunks (internal/synth), embedded with the local embedder, for the
// benchmarks that need a store of a real shop's size without committing
// one:
//
//	go run ./eval/synthstore -n 100000 -out /tmp/shop-100k
//	kefu ask --data-dir /tmp/shop-100k "how do I return opened earbuds"
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/embedding"
	"github.com/kefuhq/kefu/internal/synth"
	"github.com/kefuhq/kefu/vectordb/embedded"
)

func main() {
	n := flag.Int("n", 100_000, "chunks to write (1 to 10,000,000)")
	perDoc := flag.Int("per-doc", 100, "chunks per document")
	out := flag.String("out", "", "data directory to create (must not hold a store)")
	flag.Parse()
	if err := run(*n, *perDoc, *out); err != nil {
		fmt.Fprintln(os.Stderr, "synthstore:", err)
		os.Exit(1)
	}
}

func run(n, perDoc int, out string) error {
	switch {
	case out == "":
		return fmt.Errorf("-out is required")
	case n < 1 || n > 10_000_000:
		return fmt.Errorf("-n %d is out of range (1 to 10,000,000)", n)
	case perDoc < 1 || perDoc > 10_000:
		return fmt.Errorf("-per-doc %d is out of range (1 to 10,000)", perDoc)
	}
	dir := filepath.Join(out, "chunks")
	if _, err := os.Stat(filepath.Join(dir, embedded.FileName)); err == nil {
		return fmt.Errorf("%s already holds a store", out)
	}
	emb := embedding.NewLocal(0)
	s, err := embedded.Open(dir, embedded.EmbedderInfo{Name: emb.Name(), Dims: emb.Dims()})
	if err != nil {
		return err
	}
	ctx := context.Background()
	// Written in batches, with a checkpoint every checkpointEvery chunks so
	// that the memory tier (and this process) stays small however large
	// the store.
	const batch, checkpointEvery = 50, 200_000
	var rs []kefu.Replacement
	pending, docs := 0, 0
	flush := func() error {
		if len(rs) == 0 {
			return nil
		}
		err := s.ReplaceMany(ctx, rs)
		rs = rs[:0]
		if err == nil && pending >= checkpointEvery {
			err, pending = s.Checkpoint(ctx), 0
		}
		return err
	}
	err = synth.Each(n, perDoc, emb.Vector, func(d kefu.Document, cs []kefu.Chunk) error {
		rs = append(rs, kefu.Replacement{Doc: d, Chunks: cs})
		pending += len(cs)
		docs++
		if len(rs) < batch {
			return nil
		}
		return flush()
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		s.Close()
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	fmt.Printf("wrote %d chunks in %d documents to %s\n", n, docs, out)
	return nil
}
