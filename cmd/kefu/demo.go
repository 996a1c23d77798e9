package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	demoshop "github.com/kefuhq/kefu/examples/demo-shop"
	"github.com/kefuhq/kefu/ingest"
)

// loadDemo ingests the demo shop when the store is empty. It reads the
// source tree's examples/demo-shop when kefu runs from the repository, and
// otherwise the copy embedded in the binary, written out under the data dir.
func (a *app) loadDemo(ctx context.Context) (ingest.Summary, bool, error) {
	empty, err := a.storeIsEmpty(ctx)
	if err != nil || !empty {
		return ingest.Summary{}, false, err
	}
	dir := demoshop.Dir
	if _, err := os.Stat(filepath.Join(dir, "products.json")); err != nil {
		dir = filepath.Join(a.cfg.DataDir, "demo-shop")
		if err := writeFS(demoshop.Files, dir); err != nil {
			return ingest.Summary{}, false, fmt.Errorf("unpack demo shop: %w", err)
		}
	}
	sum, err := a.ingester(ingest.Options{}).Run(ctx, dir)
	return sum, true, err
}

func writeFS(fsys fs.FS, dir string) error {
	return fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		raw, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, raw, 0o644)
	})
}
