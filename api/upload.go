package api

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"
)

// uploadFiles holds an upload's files while it is ingested: each is a
// temporary file unlinked as soon as it is created, read through its open
// descriptor, so that no path of the upload (a finished, failed or
// cancelled request, a panic, a killed process) leaves a file behind.
// Where an open file cannot be unlinked (Windows) its name is kept and
// close removes it. It is the fs.FS handed to the ingester.
type uploadFiles struct {
	files map[string]*os.File
	sizes map[string]int64
	named []string // still on disk, removed by close
	at    time.Time
}

var _ fs.StatFS = (*uploadFiles)(nil)

func newUploadFiles() *uploadFiles {
	return &uploadFiles{files: map[string]*os.File{}, sizes: map[string]int64{}, at: time.Now()}
}

// create makes the temporary file that holds the upload's file name.
func (u *uploadFiles) create(name string) (*os.File, error) {
	f, err := os.CreateTemp("", "kefu-upload-*")
	if err != nil {
		return nil, fmt.Errorf("write upload: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		u.named = append(u.named, f.Name())
	}
	u.files[name] = f
	return f, nil
}

// close closes every file, which frees their space, and removes those
// that could not be unlinked while open.
func (u *uploadFiles) close() {
	for _, f := range u.files {
		f.Close()
	}
	for _, n := range u.named {
		os.Remove(n)
	}
}

func (u *uploadFiles) Open(name string) (fs.File, error) {
	f, ok := u.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	size := u.sizes[name]
	return &uploadFile{SectionReader: io.NewSectionReader(f, 0, size), info: uploadInfo{name, size, u.at}}, nil
}

func (u *uploadFiles) Stat(name string) (fs.FileInfo, error) {
	if _, ok := u.files[name]; !ok {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return uploadInfo{name, u.sizes[name], u.at}, nil
}

// uploadFile is one open read of an uploaded file.
type uploadFile struct {
	*io.SectionReader
	info uploadInfo
}

func (f *uploadFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *uploadFile) Close() error               { return nil }

type uploadInfo struct {
	name string
	size int64
	at   time.Time
}

func (i uploadInfo) Name() string       { return i.name }
func (i uploadInfo) Size() int64        { return i.size }
func (i uploadInfo) Mode() fs.FileMode  { return 0o600 }
func (i uploadInfo) ModTime() time.Time { return i.at }
func (i uploadInfo) IsDir() bool        { return false }
func (i uploadInfo) Sys() any           { return nil }

// uploadGrace is how long an upload body may take before it must keep up
// the minimum rate: a slow start (TLS, a client opening files) is no
// trickle.
const uploadGrace = 10 * time.Second

// codeUploadTimeout is the API's own code for an upload whose body
// arrived too slowly, with status 408.
const codeUploadTimeout = "timeout"

// errUploadTooSlow is an upload body cut by its read deadline.
var errUploadTooSlow = errors.New("upload body too slow")

// paceReader reads an upload's body under a read deadline that it moves
// on with every read: the whole body must arrive within total, and from
// uploadGrace on at an average of rate bytes a second or more, so that a
// body trickled a byte at a time is cut early, while a large one sent at
// a fair pace is not.
type paceReader struct {
	r     io.Reader
	rc    *http.ResponseController
	start time.Time
	total time.Duration
	rate  int64
	n     int64
}

func newPaceReader(c *gin.Context, r io.Reader, total time.Duration, rate int64) *paceReader {
	return &paceReader{r: r, rc: http.NewResponseController(c.Writer), start: time.Now(), total: total, rate: rate}
}

// deadline is when the body must have gone on by, given n bytes so far.
func (p *paceReader) deadline() time.Time {
	end := p.start.Add(p.total)
	if p.rate > 0 {
		pace := p.start.Add(uploadGrace + time.Duration(float64(p.n)/float64(p.rate)*float64(time.Second)))
		if pace.Before(end) {
			end = pace
		}
	}
	return end
}

func (p *paceReader) Read(b []byte) (int, error) {
	_ = p.rc.SetReadDeadline(p.deadline()) // unsupported by test recorders
	n, err := p.r.Read(b)
	p.n += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = errUploadTooSlow
	}
	return n, err
}

// done lifts the deadline once the body is read.
func (p *paceReader) done() { _ = p.rc.SetReadDeadline(time.Time{}) }

// writeUploadTimeout answers an upload cut by its read deadline.
func (s *Server) writeUploadTimeout(c *gin.Context) {
	msg := fmt.Sprintf("the upload arrived too slowly: its body must arrive within %s, and after the first %s at %d bytes a second or more",
		s.cfg.UploadReadTimeout, uploadGrace, s.cfg.UploadMinBytesPerSecond)
	_ = c.Error(errors.New(msg))
	c.Header("Connection", "close")
	c.AbortWithStatusJSON(http.StatusRequestTimeout, ErrorResponse{Error: ErrorBody{Code: codeUploadTimeout, Message: msg}})
}
