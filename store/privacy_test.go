package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/kefuhq/kefu/store"
	"github.com/kefuhq/kefu/store/storetest"
)

var _ storetest.PrivacyStore = (*store.Bolt)(nil)

func TestBoltPrivacyConformance(t *testing.T) {
	storetest.RunPrivacy(t, func(t *testing.T) storetest.PrivacyStore { return openTest(t, t.TempDir()) })
}

// TestAuditConcurrentAppends appends from many goroutines at once, as a
// burst of failed logins does: every record is kept and the chain holds.
func TestAuditConcurrentAppends(t *testing.T) {
	s := openTest(t, t.TempDir())
	const writers, each = 16, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				r := store.AuditRecord{Actor: fmt.Sprint("key-", w), Role: "none", Action: "auth.failed", Target: fmt.Sprint(i)}
				if err := s.AppendAudit(context.Background(), r); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	v, err := s.VerifyAudit(context.Background())
	if err != nil || v.Break != nil || v.Records != writers*each {
		t.Fatalf("verify = %+v, %v", v, err)
	}
}
