package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/api"
	"github.com/kefuhq/kefu/eval"
	"github.com/kefuhq/kefu/ingest"
	"github.com/kefuhq/kefu/rag"
)

// Bounds of the replies the command line reads from a server.
const (
	maxStatusReply = 1 << 20
	maxTurnReply   = 64 << 20
	maxIngestLine  = 64 << 20
	maxChunksReply = 4 << 30

	statusTimeout = 30 * time.Second
	chunksTimeout = 10 * time.Minute
)

// openOrServer opens the stack on the data dir or, when a running kefu
// serve holds the data dir (the chunk store's lock) and serve.json names
// it, a client of that server, saying so once on stderr. Without a live
// server the lock's error is returned as it is.
func (g *globals) openOrServer(ctx context.Context, cfg Config) (*app, *serverClient, error) {
	a, err := openApp(cfg, g.stderr)
	if err == nil {
		return a, nil, nil
	}
	if !lockedByAnother(err) {
		return nil, nil, err
	}
	c := findServer(ctx, cfg.DataDir)
	if c == nil {
		return nil, nil, err
	}
	fmt.Fprintf(g.stderr, "kefu: the data dir is in use by kefu serve (pid %d): going through the server at %s\n", c.rec.PID, c.rec.Addr)
	return nil, c, nil
}

// do sends a request with the credential and returns the response when
// its status is 200; any other status is read as the server's error.
func (c *serverClient) do(ctx context.Context, method, route, ctype string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+route, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.rec.Token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, kefu.WrapError(kefu.EUnavailable, fmt.Sprintf("the kefu server at %s did not answer", c.rec.Addr), unwrapURL(err))
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	var e api.CLIErrorResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxStatusReply)).Decode(&e); err != nil || e.Error.Code == "" {
		return nil, kefu.Errorf(kefu.EUnavailable, "the kefu server at %s answered %s", c.rec.Addr, resp.Status)
	}
	return nil, e.Error.Err()
}

// unwrapURL drops net/http's "Post URL:" wrapping, which says nothing the
// message does not.
func unwrapURL(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

func (c *serverClient) status(ctx context.Context) (api.CLIStatus, error) {
	var st api.CLIStatus
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodGet, "/v1/cli/status", "", nil)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(io.LimitReader(resp.Body, maxStatusReply)).Decode(&st)
	return st, err
}

var _ eval.Answerer = (*serverClient)(nil)

// Stream runs one turn through the server's pipeline, as the pipeline of
// this process would: the whole turn comes back at once and is replayed
// as its events.
func (c *serverClient) Stream(ctx context.Context, t rag.Turn) iter.Seq2[rag.Event, error] {
	return func(yield func(rag.Event, error) bool) {
		res, err := c.turn(ctx, t)
		if err != nil {
			yield(rag.Event{}, err)
			return
		}
		meta := res.Meta
		meta.Retrieved = make([]kefu.Hit, len(res.Retrieved))
		for i, h := range res.Retrieved {
			meta.Retrieved[i] = kefu.Hit{Chunk: h.Chunk, Score: h.Score, Lexical: h.Lexical, Dense: h.Dense}
		}
		events := []rag.Event{{Type: rag.EventMeta, Meta: &meta}}
		if res.Error == nil || len(res.Citations) > 0 {
			events = append(events, rag.Event{Type: rag.EventCitations, Citations: res.Citations})
		}
		if res.Escalation != nil {
			events = append(events, rag.Event{Type: rag.EventEscalation, Escalation: res.Escalation})
		}
		if res.Error != nil {
			if res.Answer != "" {
				events = append(events, rag.Event{Type: rag.EventDelta, Delta: res.Answer})
			}
		} else {
			events = append(events, rag.Event{Type: rag.EventDone, Done: &rag.Done{Answer: res.Answer, Backend: meta.Backend, Action: res.Action}})
		}
		for _, ev := range events {
			if !yield(ev, nil) {
				return
			}
		}
		if res.Error != nil {
			yield(rag.Event{}, res.Error.Err())
		}
	}
}

func (c *serverClient) turn(ctx context.Context, t rag.Turn) (api.CLITurnResult, error) {
	var res api.CLITurnResult
	body, err := json.Marshal(api.CLITurnRequest{ConversationID: t.ConversationID, CustomerID: t.CustomerID, Message: t.Message,
		Locale: t.Locale, Channel: t.Channel, ProductID: t.ProductID, History: t.History})
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, api.CLITurnTimeout+serverProbeTimeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodPost, "/v1/cli/turn", "application/json", bytes.NewReader(body))
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxTurnReply)).Decode(&res); err != nil {
		return res, kefu.WrapError(kefu.EUnavailable, "the server's answer was cut or malformed", err)
	}
	return res, nil
}

// chunks reads every chunk the server's store holds (kefu eval
// --baseline).
func (c *serverClient) chunks(ctx context.Context) ([]kefu.Chunk, error) {
	ctx, cancel := context.WithTimeout(ctx, chunksTimeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodGet, "/v1/cli/chunks", "", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxChunksReply))
	var out []kefu.Chunk
	for {
		var line struct {
			kefu.Chunk
			Error *api.CLIError `json:"error"`
		}
		if err := dec.Decode(&line); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, kefu.WrapError(kefu.EUnavailable, "the server's chunks were cut or malformed", err)
		}
		if line.Error != nil {
			return nil, line.Error.Err()
		}
		out = append(out, line.Chunk)
	}
}

// sendFile is a file to send for an ingest: its name in the tree the
// server rebuilds, and where it is here (empty: sent empty, a file whose
// format ingest refuses).
type sendFile struct {
	name  string
	local string
}

// ingestTree lays out the files that kefu ingest PATH... would read as the
// tree the server ingests: each path as given goes under its source
// (ingest.SourceOf), so that documents get the ids and sources a direct run
// gives them. Folders are walked as ingest walks them. Paths that cannot
// be read are left out: the server reports them missing, as ingest does.
func ingestTree(paths []string) (roots []string, files []sendFile, size int64, err error) {
	seen := map[string]bool{}
	add := func(name, local string) error {
		if seen[name] {
			return nil
		}
		if len(files) == api.CLIMaxFiles {
			return kefu.Errorf(kefu.ETooLarge, "more than %d files: too many to ingest through the server; ingest them in parts", api.CLIMaxFiles)
		}
		if local != "" {
			info, err := os.Stat(local)
			if err != nil {
				return unreadable(local, err)
			}
			if info.Size() > api.CLIMaxFileBytes {
				return kefu.Errorf(kefu.ETooLarge, "%s is larger than %d MiB, the most a file may be to go through the server", local, api.CLIMaxFileBytes>>20)
			}
			if size += info.Size(); size > api.CLIMaxUploadBytes {
				return kefu.Errorf(kefu.ETooLarge, "the files are larger than %d MiB together, the most that goes through the server at once; ingest them in parts", api.CLIMaxUploadBytes>>20)
			}
		}
		seen[name] = true
		files = append(files, sendFile{name: name, local: local})
		return nil
	}
	for _, p := range paths {
		src := ingest.SourceOf(p)
		roots = append(roots, src)
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // reported missing by the server, as by ingest
		}
		if err != nil {
			return nil, nil, 0, unreadable(p, err)
		}
		if !info.IsDir() {
			if !info.Mode().IsRegular() || src == "." {
				continue
			}
			local := p
			if !ingest.KnownFormat(p) {
				local = ""
			}
			if err := add(src, local); err != nil {
				return nil, nil, 0, err
			}
			continue
		}
		err = filepath.WalkDir(p, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return unreadable(name, err)
			}
			if name == p {
				return nil
			}
			base := d.Name()
			if strings.HasPrefix(base, ".") {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 {
				info, err := os.Stat(name)
				if err != nil || !info.Mode().IsRegular() {
					return nil
				}
			} else if !d.Type().IsRegular() {
				return nil
			}
			if !ingest.Walked(base) {
				return nil
			}
			rel, err := filepath.Rel(p, name)
			if err != nil {
				return nil
			}
			return add(path.Join(src, filepath.ToSlash(rel)), name)
		})
		if err != nil {
			return nil, nil, 0, err
		}
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].name < files[j].name })
	return roots, files, size, nil
}

// unreadable refuses an ingest through the server that meets a file or
// folder it cannot read: a run of its own would report it and keep what
// was ingested from it, but the server cannot be shown it, and with
// --prune would delete its documents.
func unreadable(name string, err error) error {
	reason := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		reason = pe.Err.Error()
	}
	return kefu.Errorf(kefu.EInvalid, "cannot read %s (%s): an ingest through the running server needs every file and folder readable; fix it, or stop the server and ingest on its own", name, reason)
}

// shownPaths maps the paths the server reports (under the roots' sources)
// back to the paths as given here.
func shownPaths(sum *ingest.Summary, paths, roots []string) {
	fix := func(list []ingest.FileError) {
		for i := range list {
			list[i].File = shownPath(list[i].File, paths, roots)
		}
	}
	fix(sum.Failed)
	fix(sum.Skipped)
}

func shownPath(file string, paths, roots []string) string {
	slashed := filepath.ToSlash(file)
	best, rest := -1, ""
	for i, r := range roots {
		switch {
		case slashed == r:
			return paths[i]
		case r == "." && best < 0:
			best, rest = i, slashed
		case strings.HasPrefix(slashed, r+"/") && (best < 0 || len(r) > len(roots[best]) || roots[best] == "."):
			best, rest = i, strings.TrimPrefix(slashed, r+"/")
		}
	}
	if best < 0 {
		return file
	}
	return filepath.Join(paths[best], filepath.FromSlash(rest))
}

// remoteIngest is the outcome of an ingest through the server.
type remoteIngest struct {
	sum            ingest.Summary
	err            error
	gateFailed     bool
	rollbackFailed bool
}

// ingest sends the files at paths to the server, which ingests them into
// its store with opts (and the gate, with its golden set's bytes), and
// reports progress as a direct run does.
func (c *serverClient) ingest(ctx context.Context, paths []string, opts ingest.Options, gate *goldenGate, golden []byte, progress func(ingest.Progress)) (remoteIngest, error) {
	var out remoteIngest
	roots, files, _, err := ingestTree(paths)
	if err != nil {
		return out, err
	}
	req := api.CLIIngestRequest{Paths: roots, Options: api.CLIIngestOptions{Type: opts.Type, IDField: opts.IDField, TitleField: opts.TitleField,
		CustomerField: opts.CustomerField, Records: opts.Records, Levels: opts.Levels, GroupBy: opts.GroupBy, Fields: opts.Fields,
		ProductField: opts.ProductField, Prune: opts.Prune}}
	if gate != nil {
		req.Gate = &gate.gate
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	written := make(chan error, 1)
	go func() {
		err := writeIngestBody(mw, req, golden, files)
		pw.CloseWithError(err)
		written <- err
	}()
	ctx, cancel := context.WithTimeout(ctx, api.CLIUploadTimeout+api.CLIIngestTimeout)
	defer cancel()
	resp, err := c.do(ctx, http.MethodPost, "/v1/cli/ingest", mw.FormDataContentType(), pr)
	pr.CloseWithError(io.ErrClosedPipe) // stops the writer if the server answered early
	if werr := <-written; err != nil && werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		return out, werr // a file could not be read: say that, not how the request ended
	}
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxIngestLine*4))
	for {
		var line api.CLIIngestLine
		if err := dec.Decode(&line); err != nil {
			return out, kefu.WrapError(kefu.EUnavailable, "the server's ingest reply was cut or malformed", err)
		}
		if line.Progress != nil {
			if progress != nil {
				progress(*line.Progress)
			}
			continue
		}
		if line.Summary == nil {
			return out, kefu.Errorf(kefu.EUnavailable, "the server's ingest reply lacks its summary")
		}
		out.sum = *line.Summary
		shownPaths(&out.sum, paths, roots)
		if line.Error != nil {
			out.err = line.Error.Err()
		}
		out.gateFailed, out.rollbackFailed = line.GateFailed, line.RollbackFailed
		return out, nil
	}
}

// writeIngestBody writes an ingest's multipart body: the request, the
// golden set, then each file.
func writeIngestBody(mw *multipart.Writer, req api.CLIIngestRequest, golden []byte, files []sendFile) error {
	raw, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if err := mw.WriteField("request", string(raw)); err != nil {
		return err
	}
	if req.Gate != nil {
		if err := mw.WriteField("golden", string(golden)); err != nil {
			return err
		}
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, quoteEscaper.Replace(f.name), quoteEscaper.Replace(path.Base(f.name))))
		h.Set("Content-Type", "application/octet-stream")
		w, err := mw.CreatePart(h)
		if err != nil {
			return err
		}
		if f.local == "" {
			continue
		}
		if err := copyFile(w, f.local); err != nil {
			return err
		}
	}
	return mw.Close()
}

// quoteEscaper escapes a Content-Disposition parameter's quoted string.
var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"")

// copyFile copies at most the most a file may be that goes through the
// server (the server refuses more).
func copyFile(w io.Writer, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return unreadable(name, err) // the upload is cut: nothing is ingested
	}
	defer f.Close()
	_, err = io.Copy(w, io.LimitReader(f, api.CLIMaxFileBytes+1))
	return err
}
