package seal

import (
	"bytes"
	"testing"
)

// BenchmarkSeal seals and opens a record the size of a typical stored
// chat message (512 bytes of JSON).
func BenchmarkSeal(b *testing.B) {
	r, _ := NewKeyring(GenerateKey())
	plain := bytes.Repeat([]byte("a"), 512)
	aad := []byte("messages\x00c_ABCDEFGHIJKLMNOPQRSTUVWXYZ\x00\x00\x00\x00\x00\x00\x00\x00\x01")
	sealed := r.Seal(nil, plain, aad)
	b.Run("seal", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			r.Seal(nil, plain, aad)
		}
	})
	b.Run("open", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			if _, err := r.Open(nil, sealed, aad); err != nil {
				b.Fatal(err)
			}
		}
	})
}
