package ingest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kefuhq/kefu/internal/pdftest"
)

// TestMain lets the test binary act as a PDF worker, as kefu does with
// kefu pdf-worker.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == PDFWorkerCommand {
		os.Exit(ServePDFWorker(os.Stdin, os.Stdout))
	}
	if len(os.Args) > 1 && os.Args[1] == hangCommand {
		// A worker that never answers: a PDF that takes forever.
		select {}
	}
	os.Exit(m.Run())
}

// testWorker is the PDF worker command of the tests: this test binary.
func testWorker(t *testing.T) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Skip("no executable to run as a PDF worker:", err)
	}
	return []string{exe, PDFWorkerCommand}
}

// hangCommand makes the test binary a PDF worker that never answers.
const hangCommand = "hang-worker"

// allocated runs f and returns the bytes it allocated on this process's
// heap (other goroutines' allocations count too; the tests here run alone).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// ingestBombs runs an ingest of a folder holding a good policy and the
// given files, and returns the summary and what the run allocated.
func ingestBombs(t *testing.T, opts Options, files map[string][]byte) (Summary, *memStore, uint64) {
	t.Helper()
	dir := t.TempDir()
	files["returns.md"] = []byte("# Returns\n\nUnworn items can be returned within 30 days.\n")
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st := newMemStore()
	var sum Summary
	var err error
	n := allocated(func() { sum, err = New(st, &hashEmbedder{}, opts).Run(context.Background(), dir) })
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.docs[filepath.ToSlash(filepath.Join(dir, "returns.md"))]; !ok && len(st.docs) == 0 {
		t.Fatalf("the good file of the batch was not ingested: %v", sum)
	}
	return sum, st, n
}

// wantFailure checks that exactly the named file failed, for the reason.
func wantFailure(t *testing.T, sum Summary, name, reason string) {
	t.Helper()
	if len(sum.Failed) != 1 || filepath.Base(sum.Failed[0].File) != name || !strings.Contains(sum.Failed[0].Reason, reason) {
		t.Fatalf("failures %v, want %s failing with %q", sum.Failed, name, reason)
	}
	if sum.Documents != 1 {
		t.Fatalf("%d documents written, want the good one: %v", sum.Documents, sum)
	}
}

func TestPDFBombMemoryBounded(t *testing.T) {
	bomb := pdftest.Bomb(pdftest.Operands(), 1)
	if len(bomb) > 100<<10 {
		t.Fatalf("the bomb is %d bytes; the attack is a small file", len(bomb))
	}
	opts := Options{PDFWorker: testWorker(t), Limits: Limits{PDFMemory: 128 << 20}}
	sum, _, alloc := ingestBombs(t, opts, map[string][]byte{"bomb.pdf": bomb})
	wantFailure(t, sum, "bomb.pdf", "128 MiB of memory, the limit per PDF (ingest.pdf_max_memory_bytes)")
	if alloc > 64<<20 {
		t.Errorf("the run allocated %d MiB in this process", alloc>>20)
	}
}

// TestPDFWorkerRSS runs the worker on the bomb directly and reads the
// process's peak resident memory from the kernel.
func TestPDFWorkerRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the hard memory bound is Linux's RLIMIT_DATA")
	}
	const limit = 128 << 20
	argv := testWorker(t)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{}
	cmd.Stdin = bytes.NewReader(append([]byte(fmt.Sprintf(`{"max_pages":10,"max_chars":1000000,"max_memory":%d}`+"\n", limit)), pdftest.Bomb(pdftest.Operands(), 1)...))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run()
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Skip("no resource usage")
	}
	rss := ru.Maxrss << 10 // kilobytes on Linux
	if rss > limit+32<<20 {
		t.Errorf("the worker's peak memory was %d MiB, over its %d MiB bound", rss>>20, limit>>20)
	}
	if cmd.ProcessState.Success() && !strings.Contains(out.String(), "MiB of memory") {
		t.Errorf("the worker was not stopped by its bound: exit %v, stderr %q", cmd.ProcessState, tailOf(errb.String()))
	}
	t.Logf("peak RSS %d MiB, bound %d MiB", rss>>20, limit>>20)
}

func tailOf(s string) string {
	if len(s) > 300 {
		return s[:300]
	}
	return s
}

func TestPDFBombTextBounded(t *testing.T) {
	bomb := pdftest.Bomb(pdftest.Text(), 3)
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"worker", Options{PDFWorker: testWorker(t)}},
		{"in process", Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sum, _, alloc := ingestBombs(t, tc.opts, map[string][]byte{"bomb.pdf": bomb})
			wantFailure(t, sum, "bomb.pdf", "more than 1000000 characters")
			if tc.name == "worker" && alloc > 128<<20 {
				t.Errorf("the run allocated %d MiB in this process", alloc>>20)
			}
		})
	}
}

func TestPDFTooManyPages(t *testing.T) {
	bomb := pdftest.Bomb([]byte("BT /F1 12 Tf (page) Tj ET\n"), 5000)
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"worker", Options{PDFWorker: testWorker(t)}},
		{"in process", Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sum, _, _ := ingestBombs(t, tc.opts, map[string][]byte{"pages.pdf": bomb})
			wantFailure(t, sum, "pages.pdf", "5000 pages, over the limit of 1000")
		})
	}
}

func TestPDFWorkerReadsText(t *testing.T) {
	data := makePDF("Warranty terms", []string{"All products carry a 12 month warranty."}, []string{"Faulty items are replaced."})
	sum, st, _ := ingestBombs(t, Options{PDFWorker: testWorker(t)}, map[string][]byte{"warranty.pdf": data})
	if len(sum.Failed) != 0 || sum.Documents != 2 {
		t.Fatalf("summary %v", sum)
	}
	for id, d := range st.docs {
		if strings.HasSuffix(id, "warranty.pdf") && (d.Title != "Warranty terms" || !strings.Contains(d.Text, "12 month warranty") || !strings.Contains(d.Text, "replaced")) {
			t.Errorf("doc %+v", d)
		}
	}
}

func TestChunkBomb(t *testing.T) {
	// 20,000 one-line sections: 300 KB that cut into 20,000 chunks.
	var b strings.Builder
	for i := range 20_000 {
		fmt.Fprintf(&b, "# Part %d\n\nword\n\n", i)
	}
	sum, _, _ := ingestBombs(t, Options{}, map[string][]byte{"sections.md": []byte(b.String())})
	wantFailure(t, sum, "sections.md", "over the limit of 3000 chunks per document")
}

func TestCharLimitEveryFormat(t *testing.T) {
	long := strings.Repeat("Returns are accepted within thirty days. ", 200)
	sum, _, _ := ingestBombs(t, Options{Limits: Limits{MaxChars: 5000}}, map[string][]byte{"long.txt": []byte(long)})
	wantFailure(t, sum, "long.txt", "more than 5000 characters")
}

func TestFileTimeout(t *testing.T) {
	t.Run("any format", func(t *testing.T) {
		sum, _, _ := ingestBombs(t, Options{Limits: Limits{FileTimeout: time.Nanosecond}}, map[string][]byte{})
		if len(sum.Failed) != 1 || !strings.Contains(sum.Failed[0].Reason, "took longer than 1ns") {
			t.Fatalf("failures %v", sum.Failed)
		}
	})
	t.Run("PDF worker killed", func(t *testing.T) {
		opts := Options{PDFWorker: []string{testWorker(t)[0], hangCommand}, Limits: Limits{FileTimeout: 200 * time.Millisecond}}
		sum, _, _ := ingestBombs(t, opts, map[string][]byte{"slow.pdf": makePDF("", []string{"x"})})
		wantFailure(t, sum, "slow.pdf", "took longer than 200ms")
	})
}

func TestPDFWorkerCancelled(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "slow.pdf"), makePDF("", []string{"x"}), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	opts := Options{PDFWorker: []string{testWorker(t)[0], hangCommand}}
	time.AfterFunc(100*time.Millisecond, cancel)
	sum, err := New(newMemStore(), &hashEmbedder{}, opts).Run(ctx, dir)
	if err == nil || ctx.Err() == nil {
		t.Fatalf("a cancelled run returned %v, %v", sum, err)
	}
	if !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("error %v", err)
	}
}

func TestLimitsChecked(t *testing.T) {
	for _, l := range []Limits{{MaxChars: -1}, {PDFMemory: 1 << 20}, {FileTimeout: -time.Second}} {
		if _, err := New(newMemStore(), &hashEmbedder{}, Options{Limits: l}).Run(context.Background(), "."); err == nil {
			t.Errorf("limits %+v accepted", l)
		}
	}
}
