package remote

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxLine bounds one line of a streamed reply.
const MaxLine = 1 << 20

// LineCheck checks a line-delimited stream (SSE, NDJSON) as it is read.
// Line gets each line without its line break and returns an error for a
// faulty one; End is called at the end of the body and returns an error
// when the stream stopped before it was complete. A line is passed on to
// the reader only once it has passed, so a faulty line never reaches the
// client library.
type LineCheck struct {
	Line func(line []byte) error
	End  func() error
}

// Wrap returns body checked line by line; the first fault ends reading
// with that error, which is also recorded in the call.
func (lc LineCheck) Wrap(body io.ReadCloser, call *Call) io.ReadCloser {
	return &checkedBody{body: body, r: bufio.NewReader(body), lc: lc, call: call}
}

type checkedBody struct {
	body    io.ReadCloser
	r       *bufio.Reader
	lc      LineCheck
	call    *Call
	pending []byte
	err     error
}

func (b *checkedBody) Read(p []byte) (int, error) {
	for len(b.pending) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		b.next()
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	return n, nil
}

// next reads and checks one line into pending, or sets err.
func (b *checkedBody) next() {
	var line []byte
	for first := true; ; first = false {
		chunk, err := b.r.ReadSlice('\n')
		if first && err == nil {
			// The whole line is in the reader's buffer, which stays put
			// until the next read: Read hands it on before calling next
			// again, so it needs no copy.
			line = chunk
			break
		}
		line = append(line, chunk...)
		if len(line) > MaxLine {
			b.fail(fmt.Errorf("stream line longer than %d bytes", MaxLine))
			return
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			if len(bytes.TrimSpace(line)) > 0 {
				if cerr := b.lc.Line(bytes.TrimRight(line, "\r\n")); cerr != nil {
					b.fail(cerr)
					return
				}
				b.pending = line
			}
			b.err = io.EOF
			if b.lc.End != nil {
				if cerr := b.lc.End(); cerr != nil {
					b.err = cerr // after the last line, which passed
					if b.call != nil {
						b.call.setStreamErr(cerr)
					}
				}
			}
			return
		}
		if err != nil {
			b.fail(fmt.Errorf("stream cut short: %w", err))
			return
		}
		break
	}
	if cerr := b.lc.Line(bytes.TrimRight(line, "\r\n")); cerr != nil {
		b.fail(cerr)
		return
	}
	b.pending = line
}

func (b *checkedBody) fail(err error) {
	b.err = err
	b.pending = nil
	if b.call != nil {
		b.call.setStreamErr(err)
	}
}

func (b *checkedBody) Close() error { return b.body.Close() }

// ReadLine reads one line of a stream without its line break, at most
// MaxLine bytes. The line is valid until the next read. It returns io.EOF
// only when nothing is left; a read error is the stream cut short.
func ReadLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == nil || (err == io.EOF && len(line) > 0) {
		return bytes.TrimRight(line, "\r\n"), nil
	}
	if err == io.EOF {
		return nil, io.EOF
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("stream cut short: %w", err)
	}
	long := append([]byte(nil), line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		if len(long) > MaxLine {
			return nil, fmt.Errorf("stream line longer than %d bytes", MaxLine)
		}
		line, err = br.ReadSlice('\n')
		long = append(long, line...)
	}
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("stream cut short: %w", err)
	}
	return bytes.TrimRight(long, "\r\n"), nil
}

// ReadData returns the payload of the next data: line of a server-sent
// event stream, trimmed, passing over blank lines, comments and the other
// fields; io.EOF when the stream is over. The payload is valid until the
// next read.
func ReadData(br *bufio.Reader) ([]byte, error) {
	for {
		line, err := ReadLine(br)
		if err != nil {
			return nil, err
		}
		if data, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			return bytes.TrimSpace(data), nil
		}
	}
}
