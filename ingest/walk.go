package ingest

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// file is one file to load.
type file struct {
	name     string // name to open in the run's file system
	path     string // the path as walked, for failure reports
	source   string // stable, slash-separated, never absolute
	explicit bool   // named directly rather than found in a folder
}

// root is a path as given, for pruning: a folder owns every source below
// it, a file owns its own source.
type root struct {
	source string
	dir    bool
}

type walkFailure struct {
	source string
	err    FileError
}

// formats maps lower-case extensions to loaders' format names.
var formats = map[string]string{
	".md":       "markdown",
	".markdown": "markdown",
	".txt":      "text",
	".html":     "html",
	".htm":      "html",
	".pdf":      "pdf",
	".csv":      "csv",
	".json":     "json",
	".jsonl":    "jsonl",
	".ndjson":   "jsonl",
}

// target is a path given to a run, resolved against its file system.
type target struct {
	name   string // name in the file system, slash-separated
	path   string // as given, for failure reports
	source string // source of the root
	bad    string // why the path cannot be used, if it cannot
}

// osTargets resolves paths of the operating system.
func osTargets(paths []string) []target {
	ts := make([]target, len(paths))
	for i, p := range paths {
		ts[i] = target{name: path.Clean(filepath.ToSlash(p)), path: p, source: sourceOf(p)}
	}
	return ts
}

// fsTargets resolves paths of an fs.FS, which are already relative and
// slash-separated; they are their own sources.
func fsTargets(paths []string) []target {
	ts := make([]target, len(paths))
	for i, p := range paths {
		clean := path.Clean(p)
		ts[i] = target{name: clean, path: p, source: clean}
		if !fs.ValidPath(clean) {
			ts[i].bad = "invalid path"
		}
	}
	return ts
}

// osFS opens paths of the operating system as they are given, relative to
// the working folder or absolute.
type osFS struct{}

func (osFS) Open(name string) (fs.File, error) { return os.Open(filepath.FromSlash(name)) }

func (osFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(filepath.FromSlash(name)) }

func (osFS) ReadDir(name string) ([]fs.DirEntry, error) {
	return os.ReadDir(filepath.FromSlash(name))
}

// collect expands the targets into the files to load, in order and without
// repeats.
func collect(fsys fs.FS, targets []target) ([]file, []root, []walkFailure) {
	var (
		files []file
		roots []root
		fails []walkFailure
		seen  = map[string]bool{}
	)
	add := func(f file) {
		if !seen[f.source] {
			seen[f.source] = true
			files = append(files, f)
		}
	}
	failf := func(p, source, reason string) {
		fails = append(fails, walkFailure{source, FileError{File: p, Reason: reason}})
	}
	for _, t := range targets {
		if t.bad != "" {
			failf(t.path, t.source, t.bad)
			continue
		}
		info, err := fs.Stat(fsys, t.name)
		if err != nil {
			failf(t.path, t.source, statReason(err))
			continue
		}
		if !info.IsDir() {
			roots = append(roots, root{source: t.source})
			if !info.Mode().IsRegular() {
				failf(t.path, t.source, "not a regular file")
				continue
			}
			if ext := strings.ToLower(path.Ext(t.name)); formats[ext] == "" {
				failf(t.path, t.source, unsupported(ext))
				continue
			}
			add(file{name: t.name, path: t.path, source: t.source, explicit: true})
			continue
		}
		roots = append(roots, root{source: t.source, dir: true})
		// WalkDir visits entries in lexical order, so runs are deterministic.
		_ = fs.WalkDir(fsys, t.name, func(name string, d fs.DirEntry, err error) error {
			rel := strings.TrimPrefix(strings.TrimPrefix(name, t.name), "/")
			if t.name == "." {
				rel = name
			}
			shown := joinPath(t.path, rel)
			src := joinSource(t.source, rel)
			if err != nil {
				failf(shown, src, statReason(err))
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if name == t.name {
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
				// Follow links to files, not to folders, which could loop.
				info, err := fs.Stat(fsys, name)
				if err != nil || !info.Mode().IsRegular() {
					return nil
				}
			} else if !d.Type().IsRegular() {
				return nil
			}
			if skipName(base) || formats[strings.ToLower(path.Ext(base))] == "" {
				return nil
			}
			add(file{name: name, path: shown, source: src})
			return nil
		})
	}
	return files, roots, fails
}

// joinPath appends a slash-separated relative path to a path as given,
// in the form the user wrote it.
func joinPath(given, rel string) string {
	if rel == "" || rel == "." {
		return given
	}
	return filepath.Join(given, filepath.FromSlash(rel))
}

func statReason(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file or folder"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.Is(err, fs.ErrInvalid):
		return "invalid path"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func unsupported(ext string) string {
	if ext == "" {
		return "unsupported format (no file extension)"
	}
	return "unsupported format " + ext
}

// skipName reports whether a file found in a folder is not shop knowledge:
// evaluation sets ("golden*") and README files.
func skipName(name string) bool {
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "golden") {
		return true
	}
	stem := strings.TrimSuffix(lower, path.Ext(lower))
	return stem == "readme"
}

// sourceOf turns an operating-system path as given into a source: relative
// paths are kept as given (cleaned, slash-separated); absolute paths and
// paths climbing out of the working folder are reduced to their base name,
// because sources are shown to shoppers in citations and must not reveal
// the machine's layout.
func sourceOf(p string) string {
	clean := filepath.Clean(p)
	if !filepath.IsAbs(clean) && clean != ".." && !strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(clean)
	}
	abs, err := filepath.Abs(clean)
	if err != nil {
		abs = clean
	}
	base := filepath.Base(abs)
	if base == string(filepath.Separator) || base == "." || base == ".." {
		return "."
	}
	return base
}

// joinSource appends a slash-separated path relative to a root to the
// root's source.
func joinSource(rootSrc, rel string) string {
	if rel == "" || rel == "." {
		return rootSrc
	}
	if rootSrc == "." || rootSrc == "" {
		return rel
	}
	return path.Join(rootSrc, rel)
}

// underRoots reports whether a stored source lies in one of the roots.
func underRoots(source string, roots []root) bool {
	for _, r := range roots {
		switch {
		case !r.dir:
			if source == r.source {
				return true
			}
		case r.source == ".":
			if !strings.HasPrefix(source, "../") {
				return true
			}
		case strings.HasPrefix(source, r.source+"/"):
			return true
		}
	}
	return false
}

var (
	_ fs.StatFS    = osFS{}
	_ fs.ReadDirFS = osFS{}
)

// SourceOf is the source that Run gives a path as given to it: a relative
// path cleaned and slash-separated, an absolute path (or one climbing out
// of the working folder) reduced to its base name. A client that sends
// files to be ingested elsewhere (RunFS) places them under this name so
// that their sources and document ids are those Run would give.
func SourceOf(path string) string { return sourceOf(path) }

// KnownFormat reports whether Run reads a file of this name: its extension
// is one of the formats ingest loads.
func KnownFormat(name string) bool { return formats[strings.ToLower(path.Ext(name))] != "" }

// Walked reports whether Run loads a file of this base name when it finds
// it in a folder: a known format, not hidden, not a README nor a golden
// set.
func Walked(base string) bool {
	return !strings.HasPrefix(base, ".") && !skipName(base) && KnownFormat(base)
}
