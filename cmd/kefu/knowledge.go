package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/ingest"
)

// knowledgePoll is how often a server reads the knowledge version of its
// chunk store, to notice what another process (a replica, kefu ingest
// against a shared Qdrant) wrote.
const knowledgePoll = 30 * time.Second

// knowledgeVersion names what a store holds: a digest of its documents'
// ids, types, sources, content hashes and chunk counts. It changes with
// every ingest that changed something (a document added, changed, pruned
// or deleted) and not with one that found everything unchanged, and two
// stores that hold the same documents, each ingested from the same
// sources, have the same version.
func knowledgeVersion(docs []kefu.DocumentInfo) string {
	docs = slices.Clone(docs)
	slices.SortFunc(docs, func(a, b kefu.DocumentInfo) int { return strings.Compare(a.ID, b.ID) })
	h := sha256.New()
	for _, d := range docs {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%d\n", d.ID, d.Type, d.Source, d.Hash, d.Chunks)
	}
	return "kv1-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// knowledge keeps a server's knowledge version and reloads what the
// server caches of the store when the version changes.
type knowledge struct {
	store chunkStore
	log   *slog.Logger

	mu      sync.Mutex
	version string
	docs    int
}

// Version is the version last read ("" before the first read).
func (k *knowledge) Version() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.version
}

// refresh reads the store's version now. When it changed since the last
// read the store drops its caches (a Qdrant store re-reads its statistics
// for the lexical score) and the change is logged.
func (k *knowledge) refresh(ctx context.Context) error {
	docs, err := k.store.Documents(ctx)
	if err != nil {
		return err
	}
	v := knowledgeVersion(docs)
	k.mu.Lock()
	old := k.version
	k.version, k.docs = v, len(docs)
	k.mu.Unlock()
	if old != "" && old != v {
		if r, ok := k.store.(interface{ Refresh() }); ok {
			r.Refresh()
		}
		k.log.Info("the knowledge changed", "knowledge_version", v, "previous", old, "documents", len(docs))
	}
	return nil
}

// watch refreshes the version every knowledgePoll until ctx ends.
func (k *knowledge) watch(ctx context.Context) {
	t := time.NewTicker(knowledgePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, knowledgePoll)
			if err := k.refresh(rctx); err != nil && ctx.Err() == nil {
				k.log.Warn("cannot read the knowledge version", "error", err.Error())
			}
			cancel()
		}
	}
}

// refreshAfter reads the version again after a write of this server, so
// that /readyz shows it at once.
func (k *knowledge) refreshAfter(ctx context.Context) {
	if err := k.refresh(context.WithoutCancel(ctx)); err != nil {
		k.log.Warn("cannot read the knowledge version", "error", err.Error())
	}
}

// versionedIngester is the admin API's ingester, reading the knowledge
// version again after each change.
type versionedIngester struct {
	in   api.DocumentIngester
	know *knowledge
}

func (v versionedIngester) IngestFS(ctx context.Context, fsys fs.FS, opts ingest.Options, names ...string) (ingest.Summary, error) {
	sum, err := v.in.IngestFS(ctx, fsys, opts, names...)
	v.know.refreshAfter(ctx)
	return sum, err
}

func (v versionedIngester) DeleteDocument(ctx context.Context, id string) error {
	err := v.in.DeleteDocument(ctx, id)
	v.know.refreshAfter(ctx)
	return err
}
