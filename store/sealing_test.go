package store

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/seal"
)

func ring(t *testing.T, keys ...[]byte) *seal.Keyring {
	t.Helper()
	r, err := seal.NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func openWith(t *testing.T, dir string, r *seal.Keyring) *Bolt {
	t.Helper()
	s, err := Open(dir, WithKeyring(r))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestNoPlaintextOnDisk stores a shopper's words in every sealed record
// type and finds none of them in the file's bytes.
func TestNoPlaintextOnDisk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "purple-elephant-umbrella"
	c, _, err := s.StartConversation(ctx, "cust-secret-id", "web", Message{Role: kefu.RoleUser, Content: "my words " + secret})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.AppendMessage(ctx, Message{ConversationID: c.ID, Role: kefu.RoleAssistant, Content: "echo " + secret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutFeedback(ctx, Feedback{ConversationID: c.ID, MessageID: a.ID, Rating: RatingDown, Comment: secret}); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.OpenTicket(ctx, c.ID, func(tk *Ticket, _ bool) (*OutboxEvent, error) {
		tk.Reason, tk.Priority, tk.Team, tk.Summary = "requested", PriorityNormal, "support", secret
		tk.Packet = json.RawMessage(`{"transcript":"` + secret + `"}`)
		return &OutboxEvent{ID: "ev-1", Body: json.RawMessage(`{"summary":"` + secret + `"}`)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, AuditRecord{Actor: "alice", Action: "ticket.view", Detail: secret}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutProposal(ctx, Proposal{ConversationID: c.ID, CustomerID: "cust-secret-id", Kind: "change_address",
		OrderID: "W1", Details: map[string]string{"new_address": secret}, Summary: "deliver to " + secret}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, needle := range []string{secret, "cust-secret-id", "requested", "my words"} {
		if bytes.Contains(raw, []byte(needle)) {
			t.Errorf("the store file holds %q in plaintext", needle)
		}
	}
	if fi, _ := os.Stat(filepath.Join(dir, KeyFileName)); fi == nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file %v, want mode 0600", fi)
	}
}

// TestLegacyPlaintextAndRotation reads records written in plaintext by an
// older kefu, re-encrypts them, rotates to a new key and retires the old.
func TestLegacyPlaintextAndRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k1, k2 := seal.GenerateKey(), seal.GenerateKey()
	s := openWith(t, dir, ring(t, k1))
	// An older kefu wrote plain JSON.
	conv := Conversation{ID: "c_OLD", CustomerID: "cust-old", Channel: "web"}
	msg := Message{ID: "m_OLD", ConversationID: "c_OLD", Role: kefu.RoleUser, Content: "legacy words"}
	audit := AuditRecord{Actor: "alice", Role: "agent", Action: "ticket.view"}
	err := s.db.Update(func(tx *bolt.Tx) error {
		cr, _ := json.Marshal(conv)
		mr, _ := json.Marshal(msg)
		ar, _ := json.Marshal(audit)
		key := messageKey("c_OLD", 1)
		b, _ := tx.CreateBucketIfNotExists(bucketAudit)
		b.SetSequence(1)
		tx.Bucket(bucketMessages).SetSequence(1)
		return errorsJoin(tx.Bucket(bucketConversations).Put([]byte("c_OLD"), cr),
			tx.Bucket(bucketMessages).Put(key, mr), tx.Bucket(bucketMessageIDs).Put([]byte("m_OLD"), key),
			b.Put(auditKey(1), ar))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Opening chains the old audit record; the old records read.
	s = openWith(t, dir, ring(t, k1))
	if m, err := s.Message(ctx, "m_OLD"); err != nil || m.Content != "legacy words" {
		t.Fatalf("legacy message = %+v, %v", m, err)
	}
	if v, err := s.VerifyAudit(ctx); err != nil || v.Break != nil || v.Records != 1 {
		t.Fatalf("legacy audit = %+v, %v", v, err)
	}
	if _, err := s.AppendMessage(ctx, Message{ConversationID: "c_OLD", Role: kefu.RoleAssistant, Content: "new words"}); err != nil {
		t.Fatal(err)
	}
	st, _ := s.SealStatus(ctx)
	if st["plaintext"] != 1 || st[seal.FormatID(seal.KeyID(k1))] < 3 { // the message; conversation and audit were rewritten
		t.Errorf("status before reseal = %v", st)
	}
	if n, err := s.Reseal(ctx, nil); err != nil || n != 1 {
		t.Errorf("reseal = %d, %v", n, err)
	}
	s.Close()

	// Rotate: k2 seals, k1 still opens.
	s = openWith(t, dir, ring(t, k2, k1))
	if n, err := s.Reseal(ctx, nil); err != nil || n < 4 {
		t.Errorf("reseal to the new key = %d, %v", n, err)
	}
	st, _ = s.SealStatus(ctx)
	if len(st) != 1 || st[seal.FormatID(seal.KeyID(k2))] == 0 {
		t.Errorf("status after rotation = %v", st)
	}
	if n, _ := s.Reseal(ctx, nil); n != 0 {
		t.Errorf("a second reseal rewrote %d records", n)
	}
	s.Close()
	if _, _, err := Compact(dir); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, FileName))
	if bytes.Contains(raw, []byte("legacy words")) || bytes.Contains(raw, []byte("cust-old")) {
		t.Error("old plaintext is still in the file after reseal and compaction")
	}

	// The old key retired: everything opens with k2 alone.
	s = openWith(t, dir, ring(t, k2))
	msgs, err := s.Messages(ctx, "c_OLD", 0)
	if err != nil || len(msgs) != 2 || msgs[0].Content != "legacy words" || msgs[1].Content != "new words" {
		t.Fatalf("after rotation = %+v, %v", msgs, err)
	}
	if v, _ := s.VerifyAudit(ctx); v.Break != nil {
		t.Errorf("audit after rotation: %+v", v.Break)
	}
	s.Close()
	// Without the key that sealed them, records do not open, and say why.
	_, err = Open(dir, WithKeyring(ring(t, k1)))
	if kefu.ErrorCode(err) != kefu.EUnavailable || !strings.Contains(err.Error(), "not configured") {
		t.Errorf("open with a wrong key: %v", err)
	}
}

func errorsJoin(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestAuditTamperDetected plays an attacker on the file: each of a
// removed, edited, reordered or truncated record is found by VerifyAudit.
func TestAuditTamperDetected(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		tamper  func(s *Bolt, b *bolt.Bucket) error
		seq     uint64
		because string
	}{
		{"removed", func(s *Bolt, b *bolt.Bucket) error { return b.Delete(auditKey(3)) }, 3, "missing"},
		{"removed at the end", func(s *Bolt, b *bolt.Bucket) error { return b.Delete(auditKey(5)) }, 5, "missing at the end"},
		{"a byte flipped", func(s *Bolt, b *bolt.Bucket) error {
			v := bytes.Clone(b.Get(auditKey(2)))
			v[len(v)-1] ^= 1
			return b.Put(auditKey(2), v)
		}, 2, "does not open"},
		{"edited by a key holder", func(s *Bolt, b *bolt.Bucket) error {
			var r AuditRecord
			if err := s.getRecord(bucketAudit, auditKey(2), b.Get(auditKey(2)), &r); err != nil {
				return err
			}
			r.Actor = "someone-else"
			return s.putRecord(b, bucketAudit, auditKey(2), r)
		}, 2, "does not match its hash"},
		{"edited and rehashed by a key holder", func(s *Bolt, b *bolt.Bucket) error {
			var r AuditRecord
			if err := s.getRecord(bucketAudit, auditKey(2), b.Get(auditKey(2)), &r); err != nil {
				return err
			}
			r.Action = "nothing.happened"
			r.Hash = r.ChainHash()
			return s.putRecord(b, bucketAudit, auditKey(2), r)
		}, 3, "does not follow"},
		{"swapped", func(s *Bolt, b *bolt.Bucket) error {
			v2, v3 := bytes.Clone(b.Get(auditKey(2))), bytes.Clone(b.Get(auditKey(3)))
			if err := b.Put(auditKey(2), v3); err != nil {
				return err
			}
			return b.Put(auditKey(3), v2)
		}, 2, "does not open"},
		{"swapped and resealed by a key holder", func(s *Bolt, b *bolt.Bucket) error {
			var r2, r3 AuditRecord
			s.getRecord(bucketAudit, auditKey(2), b.Get(auditKey(2)), &r2)
			s.getRecord(bucketAudit, auditKey(3), b.Get(auditKey(3)), &r3)
			if err := s.putRecord(b, bucketAudit, auditKey(2), r3); err != nil {
				return err
			}
			return s.putRecord(b, bucketAudit, auditKey(3), r2)
		}, 2, "says it is record 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for _, a := range []string{"ticket.list", "ticket.view", "ticket.claim", "ticket.reply", "ticket.close"} {
				if err := s.AppendAudit(ctx, AuditRecord{Actor: "alice", Role: "agent", Action: a}); err != nil {
					t.Fatal(err)
				}
			}
			if v, _ := s.VerifyAudit(ctx); v.Break != nil || v.Records != 5 {
				t.Fatalf("before tampering: %+v", v)
			}
			if err := s.db.Update(func(tx *bolt.Tx) error { return tt.tamper(s, tx.Bucket(bucketAudit)) }); err != nil {
				t.Fatal(err)
			}
			v, err := s.VerifyAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if v.Break == nil || v.Break.Seq != tt.seq || !strings.Contains(v.Break.Reason, tt.because) {
				t.Errorf("verify = %+v, want a break at %d because %q", v.Break, tt.seq, tt.because)
			}
		})
	}
}

// TestResealResumes stops a re-encryption after its first batch, as a
// crash or Ctrl-C would: what was done stays done, and the next run
// finishes the rest.
func TestResealResumes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openWith(t, dir, ring(t, seal.GenerateKey()))
	defer s.Close()
	const n = 2*ResealBatch + 7
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMessages)
		for i := range n {
			raw, _ := json.Marshal(Message{ID: "m_" + string(rune('a'+i%26)), ConversationID: "c_X", Role: kefu.RoleUser, Content: "legacy"})
			if err := b.Put(messageKey("c_X", uint64(i+1)), raw); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stop, cancel := context.WithCancel(ctx)
	done, err := s.Reseal(stop, func(int) { cancel() })
	if err == nil || done != ResealBatch {
		t.Fatalf("interrupted reseal = %d, %v; want %d and an error", done, err, ResealBatch)
	}
	if st, _ := s.SealStatus(ctx); st["plaintext"] != n-ResealBatch {
		t.Errorf("after the interruption: %v", st)
	}
	rest, err := s.Reseal(ctx, nil)
	if err != nil || rest != n-ResealBatch {
		t.Fatalf("resumed reseal = %d, %v", rest, err)
	}
	if st, _ := s.SealStatus(ctx); st["plaintext"] != 0 {
		t.Errorf("after resuming: %v", st)
	}
}
