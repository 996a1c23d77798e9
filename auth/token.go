package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/kefuhq/kefu"
)

// MaxCustomerIDLen is the longest customer id a token may carry, in bytes.
const MaxCustomerIDLen = 128

// maxTokenLen bounds the work Verify does on hostile input: a real token
// with a 128-byte subject is well under 512 bytes.
const maxTokenLen = 2048

// b64 is unpadded base64url that rejects non-canonical encodings, so a
// token has exactly one spelling.
var b64 = base64.RawURLEncoding.Strict()

// claims is a shopper token's payload.
type claims struct {
	Sub string `json:"sub"`
	Exp int64  `json:"exp"`
	Iat int64  `json:"iat"`
}

// Mint returns a shopper token for customerID, issued at now and valid for
// ttl. It fails with kefu.EInvalid when secret is empty (a token signed with
// an empty key proves nothing), when customerID is not a valid customer id
// (see ValidCustomerID) or when ttl is not positive.
func Mint(secret []byte, customerID string, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", kefu.Errorf(kefu.EInvalid, "the shopper token secret is empty")
	}
	if !ValidCustomerID(customerID) {
		return "", kefu.Errorf(kefu.EInvalid,
			"customer id must be 1 to %d characters of A-Z a-z 0-9 _ . @ -", MaxCustomerIDLen)
	}
	if ttl <= 0 {
		return "", kefu.Errorf(kefu.EInvalid, "token lifetime must be positive, got %s", ttl)
	}
	// Expiry is rounded up to a whole second so a token never lives
	// shorter than asked.
	exp := now.Add(ttl)
	if exp.Truncate(time.Second).Before(exp) {
		exp = exp.Truncate(time.Second).Add(time.Second)
	}
	payload, err := json.Marshal(claims{Sub: customerID, Exp: exp.Unix(), Iat: now.Unix()})
	if err != nil {
		return "", kefu.WrapError(kefu.EInternal, "encode token", err)
	}
	p := b64.EncodeToString(payload)
	return p + "." + b64.EncodeToString(sign(secret, p)), nil
}

// Verify checks a shopper token at time now and returns its customer id.
// The signature is checked, in constant time, before the payload is read.
// A token is refused when it is malformed, its signature does not match
// secret, it has expired (now is at or after exp), or its subject is not a
// valid customer id. Errors are *kefu.Error with code kefu.EUnauthorized and
// a message that names the reason ("malformed token", "token signature
// invalid", "token expired", ...). An empty secret refuses every token.
func Verify(secret []byte, token string, now time.Time) (customerID string, err error) {
	if len(secret) == 0 {
		return "", kefu.Errorf(kefu.EUnauthorized, "shopper tokens are not accepted: no token secret is configured")
	}
	if len(token) > maxTokenLen {
		return "", malformed("malformed token: too long")
	}
	p, s, ok := strings.Cut(token, ".")
	if !ok || p == "" || s == "" || strings.Contains(s, ".") {
		return "", malformed("malformed token: want two base64url parts separated by a dot")
	}
	sig, err := b64.DecodeString(s)
	if err != nil || len(sig) != sha256.Size {
		return "", malformed("malformed token: bad signature encoding")
	}
	if !hmac.Equal(sig, sign(secret, p)) {
		return "", kefu.Errorf(kefu.EUnauthorized, "token signature invalid")
	}
	payload, err := b64.DecodeString(p)
	if err != nil {
		return "", malformed("malformed token: bad payload encoding")
	}
	var c claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&c); err != nil || dec.More() {
		return "", malformed("malformed token: payload is not a JSON object of sub, exp and iat")
	}
	switch {
	case c.Exp == 0:
		return "", malformed("malformed token: no expiry")
	case now.Unix() >= c.Exp:
		return "", kefu.Errorf(kefu.EUnauthorized, "token expired")
	case c.Sub == "":
		return "", malformed("malformed token: no subject")
	case !ValidCustomerID(c.Sub):
		return "", malformed("malformed token: subject is not a valid customer id")
	}
	return c.Sub, nil
}

// ValidCustomerID reports whether id can name a customer: 1 to
// MaxCustomerIDLen bytes of A-Z, a-z, 0-9, '_', '.', '@' and '-'.
func ValidCustomerID(id string) bool {
	if id == "" || len(id) > MaxCustomerIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case b == '_', b == '.', b == '@', b == '-':
		default:
			return false
		}
	}
	return true
}

func sign(secret []byte, payloadPart string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(payloadPart))
	return m.Sum(nil)
}

func malformed(msg string) error { return kefu.Errorf(kefu.EUnauthorized, "%s", msg) }
