package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

// Sizes of the header of a sealed value.
const (
	version    = 0x01
	idSize     = 4
	nonceSize  = 12
	headerSize = 1 + idSize + nonceSize
	// Overhead is what sealing adds to a plaintext: the header and the
	// 16-byte authentication tag.
	Overhead = headerSize + 16
)

// ErrUnknownKey is returned by Open for a value sealed with a key that is
// not in the keyring.
var ErrUnknownKey = errors.New("sealed with a key that is not in the keyring")

// ErrCorrupt is returned by Open for a value that is not a sealed value or
// does not authenticate (edited, truncated, or moved to another place).
var ErrCorrupt = errors.New("sealed value is corrupt or was moved")

type key struct {
	id   uint32
	aead cipher.AEAD
}

// Keyring seals with its current key and opens with any of its keys. It is
// immutable and safe for concurrent use.
type Keyring struct {
	current *key
	byID    map[uint32]*key
}

// NewKeyring returns a keyring whose current key is keys[0]; the others are
// kept to open older values. Each key must be KeySize bytes, and no two may
// share a key id.
func NewKeyring(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: a keyring needs at least one key")
	}
	r := &Keyring{byID: make(map[uint32]*key, len(keys))}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("seal: key %d is %d bytes, want %d", i+1, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("seal: key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: key %d: %w", i+1, err)
		}
		id := KeyID(k)
		if _, dup := r.byID[id]; dup {
			return nil, fmt.Errorf("seal: key %d appears twice (id %08x)", i+1, id)
		}
		kk := &key{id: id, aead: aead}
		r.byID[id] = kk
		if i == 0 {
			r.current = kk
		}
	}
	return r, nil
}

// KeyID is the id of a key: the first four bytes of SHA-256 over a fixed
// label and the key. It names the key without revealing it.
func KeyID(k []byte) uint32 {
	h := sha256.New()
	h.Write([]byte("kefu seal key id\x00"))
	h.Write(k)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// FormatID shows a key id as 8 hex digits.
func FormatID(id uint32) string { return fmt.Sprintf("%08x", id) }

// Current returns the id of the key that seals.
func (r *Keyring) Current() uint32 { return r.current.id }

// IDs returns the ids of every key, the current one first.
func (r *Keyring) IDs() []uint32 {
	ids := []uint32{r.current.id}
	for id := range r.byID {
		if id != r.current.id {
			ids = append(ids, id)
		}
	}
	return ids
}

// Seal appends to dst the sealed form of plaintext under the current key,
// bound to aad, and returns the result.
func (r *Keyring) Seal(dst, plaintext, aad []byte) []byte {
	k := r.current
	need := len(dst) + Overhead + len(plaintext)
	if cap(dst) < need {
		grown := make([]byte, len(dst), need)
		copy(grown, dst)
		dst = grown
	}
	start := len(dst)
	dst = append(dst, version)
	dst = binary.BigEndian.AppendUint32(dst, k.id)
	dst = dst[:start+headerSize]
	nonce := dst[start+1+idSize : start+headerSize]
	rand.Read(nonce) // crypto/rand.Read never fails; it crashes the process first
	return k.aead.Seal(dst, nonce, plaintext, aad)
}

// Open appends to dst the plaintext of sealed, checked against aad, and
// returns the result. It fails with ErrUnknownKey when the key that sealed
// it is not in the keyring and ErrCorrupt when it does not authenticate.
func (r *Keyring) Open(dst, sealed, aad []byte) ([]byte, error) {
	id, ok := SealedKeyID(sealed)
	if !ok || len(sealed) < Overhead {
		return nil, ErrCorrupt
	}
	k := r.byID[id]
	if k == nil {
		return nil, fmt.Errorf("%w (key id %s)", ErrUnknownKey, FormatID(id))
	}
	out, err := k.aead.Open(dst, sealed[1+idSize:headerSize], sealed[headerSize:], aad)
	if err != nil {
		return nil, ErrCorrupt
	}
	return out, nil
}

// IsSealed reports whether b begins like a sealed value (a plaintext JSON
// record never does).
func IsSealed(b []byte) bool { return len(b) >= headerSize && b[0] == version }

// SealedKeyID returns the id of the key that sealed b.
func SealedKeyID(b []byte) (uint32, bool) {
	if !IsSealed(b) {
		return 0, false
	}
	return binary.BigEndian.Uint32(b[1 : 1+idSize]), true
}

// NeedsReseal reports whether b is not sealed under the current key: a
// plaintext record, or one sealed with an older key.
func (r *Keyring) NeedsReseal(b []byte) bool {
	id, ok := SealedKeyID(b)
	return !ok || id != r.current.id
}

// GenerateKey returns a new random key.
func GenerateKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k) // crypto/rand.Read never fails; it crashes the process first
	return k
}

// ParseKeys reads keys written in standard base64, one per line or
// separated by commas; blank lines and lines starting with # are skipped.
// The first key is the current one. Errors name the key by its position,
// never its bytes.
func ParseKeys(text string) ([][]byte, error) {
	var keys [][]byte
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, field := range strings.Split(line, ",") {
			field = strings.TrimSpace(field)
			if field == "" {
				continue
			}
			k, err := base64.StdEncoding.DecodeString(field)
			if err != nil {
				return nil, fmt.Errorf("key %d is not standard base64", len(keys)+1)
			}
			if len(k) != KeySize {
				return nil, fmt.Errorf("key %d is %d bytes, want %d (base64 of 32 random bytes: openssl rand -base64 32)", len(keys)+1, len(k), KeySize)
			}
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no key found")
	}
	return keys, nil
}

// FormatKeys writes keys as ParseKeys reads them, one per line, with a
// comment line naming each key's id.
func FormatKeys(keys [][]byte) string {
	var b strings.Builder
	b.WriteString("# kefu encryption keys: the first seals, the others only open older records. Keep this file secret.\n")
	for i, k := range keys {
		role := "current"
		if i > 0 {
			role = "retired"
		}
		fmt.Fprintf(&b, "# key %s (%s)\n%s\n", FormatID(KeyID(k)), role, base64.StdEncoding.EncodeToString(k))
	}
	return b.String()
}

// Fingerprint returns a short hex digest of b, for naming a record without
// keeping it (the SHA-256 of b, cut to 16 bytes).
func Fingerprint(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
