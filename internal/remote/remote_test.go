package remote

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":        0,
		"3":       3 * time.Second,
		"0.5":     500 * time.Millisecond,
		"-1":      0,
		"soon":    0,
		"9999999": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	} {
		if got := ParseRetryAfter(v, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestLineCheckStopsBeforeAFaultyLine(t *testing.T) {
	check := LineCheck{
		Line: func(line []byte) error {
			if strings.Contains(string(line), "bad") {
				return errors.New("bad line")
			}
			return nil
		},
		End: func() error { return errors.New("no end marker") },
	}
	call := &Call{}
	body := check.Wrap(io.NopCloser(strings.NewReader("one\ntwo\nbad\nthree\n")), call)
	got, err := io.ReadAll(body)
	if string(got) != "one\ntwo\n" || err == nil || call.StreamErr() == nil {
		t.Fatalf("read %q, %v; want the lines before the fault, then its error", got, err)
	}
	got, err = io.ReadAll(check.Wrap(io.NopCloser(strings.NewReader("one\ntwo")), &Call{}))
	if string(got) != "one\ntwo" || err == nil || !strings.Contains(err.Error(), "no end marker") {
		t.Fatalf("read %q, %v; want every line, then the end check's error", got, err)
	}
}

func TestFailurePrefersCtxThenStreamThenStatus(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := Failure(ctx, "svc", &Call{Status: 200}, errors.New("request cancelled"), "sk-secret")
	if !errors.Is(e, context.Canceled) || e.Transient() {
		t.Errorf("cancelled: %v transient %t", e, e.Transient())
	}
	e = Failure(context.Background(), "svc", &Call{Status: 401}, errors.New("Incorrect API key provided: sk-secret"), "sk-secret")
	if e.Status != 401 || strings.Contains(e.Error(), "sk-secret") || e.Transient() {
		t.Errorf("401: %v", e)
	}
	e = Failure(context.Background(), "svc", &Call{Status: 503, RetryAfter: time.Second}, errors.New("busy"))
	if !e.Transient() || e.RetryAfter() != time.Second || !strings.Contains(e.Error(), "retry after 1s") {
		t.Errorf("503: %v", e)
	}
}

// TestLineCheckPassesEveryByte reads through the check with one-byte and
// odd-sized reads, over lines shorter and longer than the reader's buffer:
// what comes out is what went in, and every line was checked whole.
func TestLineCheckPassesEveryByte(t *testing.T) {
	long := strings.Repeat("x", 10_000)
	in := "data: one\n\ndata: " + long + "\r\ndata: two\nlast"
	var lines []string
	check := LineCheck{Line: func(line []byte) error { lines = append(lines, string(line)); return nil }}
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
	} {
		lines = nil
		got, err := io.ReadAll(wrap(check.Wrap(io.NopCloser(strings.NewReader(in)), &Call{})))
		if err != nil || string(got) != in {
			t.Errorf("%s: read %d bytes, %v; want the %d sent", name, len(got), err, len(in))
		}
		want := []string{"data: one", "", "data: " + long, "data: two", "last"}
		if strings.Join(lines, "|") != strings.Join(want, "|") {
			t.Errorf("%s: %d lines checked, want %d", name, len(lines), len(want))
		}
	}
}
