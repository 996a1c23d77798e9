package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k1, k2 := GenerateKey(), GenerateKey()
	r, err := NewKeyring(k1)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte(`{"content":"手机 13800138000"}`)
	sealed := r.Seal(nil, plain, []byte("messages\x00k1"))
	if !IsSealed(sealed) || len(sealed) != len(plain)+Overhead || bytes.Contains(sealed, []byte("13800138000")) {
		t.Fatalf("sealed = %x", sealed)
	}
	if id, _ := SealedKeyID(sealed); id != KeyID(k1) || r.NeedsReseal(sealed) {
		t.Errorf("key id %08x, want %08x", id, KeyID(k1))
	}
	got, err := r.Open(nil, sealed, []byte("messages\x00k1"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Two seals of one plaintext differ (a fresh nonce each).
	if bytes.Equal(sealed, r.Seal(nil, plain, []byte("messages\x00k1"))) {
		t.Error("two seals are identical")
	}
	// Moved, edited, truncated: refused.
	if _, err := r.Open(nil, sealed, []byte("messages\x00k2")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("moved: %v", err)
	}
	edited := bytes.Clone(sealed)
	edited[len(edited)-5] ^= 0x80
	if _, err := r.Open(nil, edited, []byte("messages\x00k1")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("edited: %v", err)
	}
	for _, bad := range [][]byte{nil, {1}, sealed[:Overhead-1], plain} {
		if _, err := r.Open(nil, bad, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Open(%q) = %v", bad, err)
		}
	}
	// A new key seals; the old still opens; a keyring without it does not.
	r2, err := NewKeyring(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	if !r2.NeedsReseal(sealed) || !r2.NeedsReseal(plain) {
		t.Error("a record under the old key or in plaintext does not need resealing")
	}
	if got, err := r2.Open(nil, sealed, []byte("messages\x00k1")); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("old key in a new ring: %q, %v", got, err)
	}
	r3, _ := NewKeyring(k2)
	if _, err := r3.Open(nil, sealed, []byte("messages\x00k1")); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("without the old key: %v", err)
	}
}

func TestKeyringErrors(t *testing.T) {
	k := GenerateKey()
	for name, keys := range map[string][][]byte{
		"none":      nil,
		"short":     {k[:16]},
		"duplicate": {k, bytes.Clone(k)},
	} {
		if _, err := NewKeyring(keys...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseKeys(t *testing.T) {
	k1, k2 := GenerateKey(), GenerateKey()
	b1, b2 := base64.StdEncoding.EncodeToString(k1), base64.StdEncoding.EncodeToString(k2)
	for _, text := range []string{b1 + "," + b2, " " + b1 + " ,\n" + b2 + "\n", FormatKeys([][]byte{k1, k2})} {
		keys, err := ParseKeys(text)
		if err != nil || len(keys) != 2 || !bytes.Equal(keys[0], k1) || !bytes.Equal(keys[1], k2) {
			t.Errorf("ParseKeys(%q) = %d keys, %v", text, len(keys), err)
		}
	}
	for _, bad := range []string{"", "# only a comment", "not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		_, err := ParseKeys(bad)
		if err == nil {
			t.Errorf("ParseKeys(%q): no error", bad)
		} else if strings.Contains(err.Error(), bad) && bad != "" {
			t.Errorf("the error repeats the key: %v", err)
		}
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "encryption.key")
	keys, err := LoadOrCreateKeyFile(path)
	if err != nil || len(keys) != 1 {
		t.Fatalf("create = %d keys, %v", len(keys), err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", fi.Mode(), err)
	}
	again, err := LoadOrCreateKeyFile(path)
	if err != nil || !bytes.Equal(again[0], keys[0]) {
		t.Fatalf("second load = %v", err)
	}
	next := GenerateKey()
	if err := WriteKeyFile(path, [][]byte{next, keys[0]}); err != nil {
		t.Fatal(err)
	}
	got, err := LoadKeyFile(path)
	if err != nil || len(got) != 2 || !bytes.Equal(got[0], next) {
		t.Fatalf("after write = %d keys, %v", len(got), err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("rewritten key file mode %v", fi.Mode())
	}
}

// FuzzOpen feeds Open arbitrary bytes: it refuses them without panicking,
// and never opens what it did not seal.
func FuzzOpen(f *testing.F) {
	r, _ := NewKeyring(bytes.Repeat([]byte{7}, KeySize))
	f.Add(r.Seal(nil, []byte(`{"a":1}`), []byte("b\x00k")), []byte("b\x00k"))
	f.Add([]byte{1, 0, 0, 0, 0}, []byte{})
	f.Add([]byte(`{"plain":true}`), []byte("x"))
	f.Fuzz(func(t *testing.T, sealed, aad []byte) {
		if _, err := r.Open(nil, sealed, aad); err == nil && !IsSealed(sealed) {
			t.Fatalf("opened an unsealed value %q", sealed)
		}
	})
}

// FuzzParseKeys feeds the key parser (KEFU_ENCRYPTION_KEY, key files)
// arbitrary text: it returns keys of the right size or an error that does
// not repeat what it was given.
func FuzzParseKeys(f *testing.F) {
	f.Add(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, KeySize)))
	f.Add("# comment\nAAAA,BBBB\n")
	f.Add(FormatKeys([][]byte{bytes.Repeat([]byte{2}, KeySize), bytes.Repeat([]byte{3}, KeySize)}))
	f.Fuzz(func(t *testing.T, text string) {
		keys, err := ParseKeys(text)
		if err != nil {
			if len(text) >= 8 && strings.Contains(err.Error(), text) {
				t.Fatalf("the error repeats the input: %v", err)
			}
			return
		}
		for _, k := range keys {
			if len(k) != KeySize {
				t.Fatalf("a key of %d bytes", len(k))
			}
		}
	})
}
