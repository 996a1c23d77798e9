package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openCommitter(t *testing.T) (*bolt.DB, *committer) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newCommitter(db)
	t.Cleanup(func() { c.close(); db.Close() })
	return db, c
}

// TestCommitterGroups holds the committer in one write while others queue,
// then checks that the queued writes shared one transaction, and that a
// failing write in the group fails alone.
func TestCommitterGroups(t *testing.T) {
	db, c := openCommitter(t)
	ctx := context.Background()
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- c.update(ctx, func(tx *bolt.Tx) error {
			<-release
			_, err := tx.CreateBucketIfNotExists([]byte("b"))
			return err
		})
	}()
	time.Sleep(20 * time.Millisecond) // let the first write take the committer

	const n = 10
	boom := errors.New("boom")
	var mu sync.Mutex
	txIDs := map[int]int{} // write -> id of the transaction that stored it
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.update(ctx, func(tx *bolt.Tx) error {
				if i == 3 {
					return boom
				}
				mu.Lock()
				txIDs[i] = tx.ID()
				mu.Unlock()
				return tx.Bucket([]byte("b")).Put([]byte{byte(i)}, []byte("v"))
			})
		}()
	}
	time.Sleep(200 * time.Millisecond) // let them queue behind the first
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if i == 3 {
			if !errors.Is(err, boom) {
				t.Errorf("write 3: error = %v, want its own", err)
			}
		} else if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	err := db.View(func(tx *bolt.Tx) error {
		for i := range n {
			if got := tx.Bucket([]byte("b")).Get([]byte{byte(i)}); (got != nil) != (i != 3) {
				t.Errorf("write %d stored = %v", i, got != nil)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Without the failing write the nine would have shared a commit; with
	// it the group was retried one by one. Queue a clean group to see the
	// sharing itself.
	release2 := make(chan struct{})
	go func() { _ = c.update(ctx, func(*bolt.Tx) error { <-release2; return nil }) }()
	time.Sleep(20 * time.Millisecond)
	ids := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.update(ctx, func(tx *bolt.Tx) error { ids[i] = tx.ID(); return nil })
		}()
	}
	time.Sleep(200 * time.Millisecond)
	close(release2)
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("queued writes committed in transactions %v, want one", ids)
		}
	}
}

func TestCommitterClosed(t *testing.T) {
	_, c := openCommitter(t)
	c.close()
	if err := c.update(context.Background(), func(*bolt.Tx) error { return nil }); !errors.Is(err, errClosed) {
		t.Errorf("update after close: error = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, c2 := openCommitter(t)
	release := make(chan struct{})
	go func() { _ = c2.update(context.Background(), func(*bolt.Tx) error { <-release; return nil }) }()
	time.Sleep(20 * time.Millisecond)
	if err := c2.update(ctx, func(*bolt.Tx) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("update with a cancelled context while busy: error = %v", err)
	}
	close(release)
}

// TestCommitterSurvivesAPanickingWrite: the write fails with an error, the
// process goes on and so does the store.
func TestCommitterSurvivesAPanickingWrite(t *testing.T) {
	_, c := openCommitter(t)
	ctx := context.Background()
	err := c.update(ctx, func(*bolt.Tx) error {
		var m map[string]int
		m["x"] = 1
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("panicking write: error = %v", err)
	}
	if err := c.update(ctx, func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists([]byte("b")); return err }); err != nil {
		t.Fatalf("the next write: %v", err)
	}
}
