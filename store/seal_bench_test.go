package store

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/seal"
)

// BenchmarkTurnRecords is the record work of one chat turn without the
// disk: the four records a turn writes (the shopper's message, the answer,
// the conversation twice) encoded, and the ten messages of history a turn
// reads decoded; "plain" as JSON only, "sealed" also sealed and opened with
// AES-256-GCM. The difference is what encryption at rest adds to a turn.
// p99-ns is the 99th percentile of one turn's time.
func BenchmarkTurnRecords(b *testing.B) {
	r, err := seal.NewKeyring(seal.GenerateKey())
	if err != nil {
		b.Fatal(err)
	}
	s := &Bolt{ring: r, now: time.Now}
	now := time.Now().UTC()
	conv := Conversation{ID: newID(conversationPrefix), CustomerID: "C1001", Channel: "web", CreatedAt: now, UpdatedAt: now}
	user := Message{ID: newID(messagePrefix), ConversationID: conv.ID, Role: kefu.RoleUser, Content: "How long do I have to return an item? My order is W261118-1004.", CreatedAt: now}
	answer := Message{ID: newID(messagePrefix), ConversationID: conv.ID, Role: kefu.RoleAssistant, CreatedAt: now, Intent: "return_refund", Decision: "answer",
		Content:   "You can return most items within 30 days of delivery, unused and in their original packaging. [1] Refunds reach your account within 5 business days. [2]",
		Citations: json.RawMessage(`[{"doc_id":"returns.md#1","title":"Returns","source":"returns.md","snippet":"within 30 days of delivery","score":0.91},{"doc_id":"refunds.md#2","title":"Refunds","source":"refunds.md","snippet":"5 business days","score":0.8}]`)}
	history := make([][]byte, 10)
	keys := make([][]byte, 10)
	for i := range history {
		keys[i] = messageKey(conv.ID, uint64(i+1))
		m := user
		if i%2 == 1 {
			m = answer
		}
		history[i], _ = s.sealRecord(bucketMessages, keys[i], m)
	}
	plainHistory := make([][]byte, 10)
	for i := range plainHistory {
		m := user
		if i%2 == 1 {
			m = answer
		}
		plainHistory[i], _ = json.Marshal(m)
	}
	run := func(b *testing.B, turn func()) {
		times := make([]time.Duration, 0, 1<<16)
		for b.Loop() {
			start := time.Now()
			turn()
			if len(times) < cap(times) {
				times = append(times, time.Since(start))
			}
		}
		slices.Sort(times)
		if len(times) > 0 {
			b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns")
		}
	}
	b.Run("plain", func(b *testing.B) {
		run(b, func() {
			for _, v := range []any{user, conv, answer, conv} {
				if _, err := json.Marshal(v); err != nil {
					b.Fatal(err)
				}
			}
			for _, raw := range plainHistory {
				var m Message
				if err := decode(raw, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("sealed", func(b *testing.B) {
		run(b, func() {
			key := messageKey(conv.ID, 11)
			for _, rec := range []struct {
				bucket, key []byte
				v           any
			}{{bucketMessages, key, user}, {bucketConversations, []byte(conv.ID), conv}, {bucketMessages, key, answer}, {bucketConversations, []byte(conv.ID), conv}} {
				if _, err := s.sealRecord(rec.bucket, rec.key, rec.v); err != nil {
					b.Fatal(err)
				}
			}
			for i, raw := range history {
				var m Message
				if err := s.getRecord(bucketMessages, keys[i], raw, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
