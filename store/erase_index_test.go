package store

import (
	"bytes"
	"context"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
)

// An erased shopper's client message ids go with their messages: the index
// holds neither their keys nor their (hashed) customer id afterwards.
func TestEraseCustomerDropsClientMessageIDs(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first := Message{Role: kefu.RoleUser, Content: "Where is my order?", ClientMessageID: "retry-key-0001"}
	if _, _, _, err := s.StartConversationOnce(ctx, "cust-erase", "web", first); err != nil {
		t.Fatal(err)
	}
	other := Message{Role: kefu.RoleUser, Content: "Hello", ClientMessageID: "retry-key-0002"}
	if _, _, _, err := s.StartConversationOnce(ctx, "cust-keep", "web", other); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EraseCustomer(ctx, "cust-erase", AuditRecord{Actor: "admin", Role: "admin", Action: "customer.erase"}); err != nil {
		t.Fatal(err)
	}
	erased, kept := clientKey("cust-erase", "retry-key-0001"), clientKey("cust-keep", "retry-key-0002")
	err = s.db.View(func(tx *bolt.Tx) error {
		n := 0
		return tx.Bucket(bucketClientIDs).ForEach(func(k, _ []byte) error {
			n++
			if bytes.Equal(k, erased) {
				t.Errorf("the erased shopper's client message id is still indexed")
			}
			if !bytes.Equal(k, kept) || n > 1 {
				t.Errorf("unexpected index key %q", k)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}
