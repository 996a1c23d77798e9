package auth_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/auth"
)

var (
	secret = []byte("test-secret-of-reasonable-length")
	t0     = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

func mint(t *testing.T, sub string, ttl time.Duration, now time.Time) string {
	t.Helper()
	tok, err := auth.Mint(secret, sub, ttl, now)
	if err != nil {
		t.Fatalf("Mint(%q): %v", sub, err)
	}
	return tok
}

// forge signs an arbitrary payload with the documented scheme, written out
// here independently of the package so the test also pins the format.
func forge(t *testing.T, payload string) string {
	t.Helper()
	p := base64.RawURLEncoding.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(p))
	return p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestMintVerify(t *testing.T) {
	tok := mint(t, "cust_42@shop.example", time.Hour, t0)
	if strings.Count(tok, ".") != 1 {
		t.Fatalf("token %q: want two parts", tok)
	}
	for _, now := range []time.Time{t0, t0.Add(59 * time.Minute)} {
		got, err := auth.Verify(secret, tok, now)
		if err != nil || got != "cust_42@shop.example" {
			t.Fatalf("Verify at %s = %q, %v", now, got, err)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	good := mint(t, "c1", time.Hour, t0)
	payload, sig, _ := strings.Cut(good, ".")
	tests := []struct {
		name   string
		secret []byte
		token  string
		now    time.Time
		want   string // substring of the message
	}{
		{"empty token", secret, "", t0, "malformed token"},
		{"no dot", secret, payload, t0, "malformed token"},
		{"three parts", secret, good + ".x", t0, "malformed token"},
		{"empty signature", secret, payload + ".", t0, "malformed token"},
		{"signature not base64", secret, payload + ".!!!", t0, "malformed token"},
		{"short signature", secret, payload + ".AAAA", t0, "malformed token"},
		{"wrong secret", []byte("another-secret"), good, t0, "token signature invalid"},
		{"tampered payload", secret, strings.Split(mint(t, "c2", time.Hour, t0), ".")[0] + "." + sig, t0, "token signature invalid"},
		{"expired exactly", secret, good, t0.Add(time.Hour), "token expired"},
		{"expired long ago", secret, good, t0.Add(48 * time.Hour), "token expired"},
		{"empty secret", nil, good, t0, "no token secret"},
		{"too long", secret, strings.Repeat("a", 5000) + "." + sig, t0, "malformed token"},
		{"payload not json", secret, forge(t, "not json"), t0, "malformed token"},
		{"payload trailing data", secret, forge(t, `{"sub":"c1","exp":9999999999} {}`), t0, "malformed token"},
		{"sub wrong type", secret, forge(t, `{"sub":5,"exp":9999999999}`), t0, "malformed token"},
		{"no expiry", secret, forge(t, `{"sub":"c1"}`), t0, "no expiry"},
		{"empty sub", secret, forge(t, `{"sub":"","exp":9999999999}`), t0, "no subject"},
		// A token that lives longer than the server's maximum is refused,
		// however validly signed: a leaked long-lived token is not forever.
		{"lifetime over the maximum", secret, mint(t, "c1", 25*time.Hour, t0), t0, "lives longer than"},
		{"forged six-year lifetime", secret, forge(t, `{"sub":"c9","exp":1900000000,"iat":1700000000}`), t0, "lives longer than"},
		{"no iat, far expiry", secret, forge(t, `{"sub":"c1","exp":9999999999}`), t0, "no issue time"},
		// A token issued in the future (a backend minting ahead, or a
		// forged iat to stretch the lifetime) is refused beyond the skew.
		{"issued in the future", secret, mint(t, "c1", time.Hour, t0.Add(2*time.Minute)), t0, "issued in the future"},
		{"future iat stretches lifetime", secret, forge(t, fmt.Sprintf(`{"sub":"c1","iat":%d,"exp":%d}`, t0.Add(23*time.Hour).Unix(), t0.Add(46*time.Hour).Unix())), t0, "issued in the future"},
		{"bad sub chars", secret, forge(t, `{"sub":"a/b","exp":9999999999}`), t0, "not a valid customer id"},
		{"sub with space", secret, forge(t, `{"sub":"a b","exp":9999999999}`), t0, "not a valid customer id"},
		{"sub too long", secret, forge(t, `{"sub":"`+strings.Repeat("x", 129)+`","exp":9999999999}`), t0, "not a valid customer id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := auth.Verify(tt.secret, tt.token, tt.now)
			if err == nil {
				t.Fatalf("Verify = %q, nil; want an error", id)
			}
			if code := kefu.ErrorCode(err); code != kefu.EUnauthorized {
				t.Errorf("code = %q, want %q", code, kefu.EUnauthorized)
			}
			if msg := kefu.ErrorMessage(err); !strings.Contains(msg, tt.want) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.want)
			}
		})
	}
}

func TestMintRejects(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		sub    string
		ttl    time.Duration
	}{
		{"empty secret", nil, "c1", time.Hour},
		{"empty sub", secret, "", time.Hour},
		{"bad sub", secret, "c 1", time.Hour},
		{"long sub", secret, strings.Repeat("x", 129), time.Hour},
		{"zero ttl", secret, "c1", 0},
		{"negative ttl", secret, "c1", -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := auth.Mint(tt.secret, tt.sub, tt.ttl, t0)
			if err == nil {
				t.Fatalf("Mint = %q, nil; want an error", tok)
			}
			if code := kefu.ErrorCode(err); code != kefu.EInvalid {
				t.Errorf("code = %q, want %q", code, kefu.EInvalid)
			}
		})
	}
}

func TestMintLongestID(t *testing.T) {
	id := strings.Repeat("A", auth.MaxCustomerIDLen)
	got, err := auth.Verify(secret, mint(t, id, time.Minute, t0), t0)
	if err != nil || got != id {
		t.Fatalf("Verify = %q, %v", got, err)
	}
}

func FuzzVerify(f *testing.F) {
	good, _ := auth.Mint(secret, "c1", time.Hour, t0)
	for _, s := range []string{good, "", ".", "a.b", good + "x", "e30.AAAA", strings.Repeat(".", 10)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		id, err := auth.Verify(secret, token, t0)
		if err != nil {
			if kefu.ErrorCode(err) != kefu.EUnauthorized {
				t.Fatalf("code = %q", kefu.ErrorCode(err))
			}
			return
		}
		if !auth.ValidCustomerID(id) {
			t.Fatalf("accepted invalid customer id %q", id)
		}
	})
}

func TestForgedValidToken(t *testing.T) {
	// A token written by another implementation of the format (the shop's
	// backend) verifies.
	tok := forge(t, fmt.Sprintf(`{"sub":"c9","exp":%d,"iat":%d}`, t0.Add(2*time.Hour).Unix(), t0.Unix()))
	got, err := auth.Verify(secret, tok, t0)
	if err != nil || got != "c9" {
		t.Fatalf("Verify = %q, %v", got, err)
	}
	// As does one without iat and without kid that expires within the
	// maximum lifetime, as tokens were written before those checks.
	tok = forge(t, fmt.Sprintf(`{"sub":"c9","exp":%d}`, t0.Add(time.Hour).Unix()))
	got, err = auth.Verify(secret, tok, t0)
	if err != nil || got != "c9" {
		t.Fatalf("Verify = %q, %v", got, err)
	}
}

func TestVerifySkewAndMaxTTL(t *testing.T) {
	// Within the skew a token from a clock slightly ahead verifies.
	if _, err := auth.Verify(secret, mint(t, "c1", time.Hour, t0.Add(30*time.Second)), t0); err != nil {
		t.Errorf("token issued 30s ahead: %v", err)
	}
	for _, at := range []time.Time{t0, t0.Add(300 * time.Millisecond), t0.Add(999 * time.Millisecond)} {
		if _, err := auth.Verify(secret, mint(t, "c1", 24*time.Hour, at), at); err != nil {
			t.Errorf("token of exactly the maximum lifetime, minted at %s: %v", at.Format(time.StampMilli), err)
		}
	}
	if _, err := auth.Verify(secret, mint(t, "c1", 24*time.Hour+2*time.Second, t0), t0); err == nil {
		t.Error("a token 2 s over the maximum lifetime verifies")
	}
	v := auth.Verifier{Secrets: []auth.Secret{{Key: secret}}, MaxTTL: 48 * time.Hour}
	if _, err := v.Verify(mint(t, "c1", 30*time.Hour, t0), t0); err != nil {
		t.Errorf("a 30h token under a 48h maximum: %v", err)
	}
}

// Rotation: tokens signed with the previous secret keep verifying while
// it is listed; a kid must name the secret that signed the token.
func TestVerifierRotation(t *testing.T) {
	current := auth.Secret{ID: "k2", Key: []byte("the-current-secret-0123456789")}
	previous := auth.Secret{ID: "k1", Key: []byte("the-previous-secret-012345678")}
	v := auth.Verifier{Secrets: []auth.Secret{current, previous}}
	for _, sec := range []auth.Secret{current, previous, {Key: previous.Key}} {
		tok, err := auth.MintWith(sec, "c1", time.Hour, t0)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := v.Verify(tok, t0); err != nil || got != "c1" {
			t.Errorf("token of secret %q: %q, %v", sec.ID, got, err)
		}
	}
	old, _ := auth.MintWith(previous, "c1", time.Hour, t0)
	if _, err := (auth.Verifier{Secrets: []auth.Secret{current}}).Verify(old, t0); err == nil {
		t.Error("a token of a retired secret verifies")
	}
	lying, _ := auth.MintWith(auth.Secret{ID: "k2", Key: previous.Key}, "c1", time.Hour, t0)
	if _, err := v.Verify(lying, t0); err == nil || !strings.Contains(kefu.ErrorMessage(err), "key id") {
		t.Errorf("a kid naming another secret than the signer: %v", err)
	}
	if _, err := auth.MintWith(auth.Secret{ID: "bad id", Key: secret}, "c1", time.Hour, t0); kefu.ErrorCode(err) != kefu.EInvalid {
		t.Errorf("bad key id minted: %v", err)
	}
}
