package auth_test

import (
	"strings"
	"testing"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/auth"
)

func TestHashKey(t *testing.T) {
	// sha256("abc")
	const want = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := auth.HashKey("abc"); got != want {
		t.Fatalf("HashKey = %q, want %q", got, want)
	}
}

func TestKeysLookup(t *testing.T) {
	widgetKey := "wk_0123456789abcdef"
	adminKey := "ak_fedcba9876543210"
	keys, err := auth.NewKeys([]auth.KeyConfig{
		{Name: "widget", Role: auth.RoleWidget, Key: widgetKey},
		{Name: "ops", Role: auth.RoleAdmin, Hash: "sha256:" + strings.ToUpper(strings.TrimPrefix(auth.HashKey(adminKey), "sha256:"))},
		{Name: "console", Role: auth.RoleAgent, Hash: auth.HashKey("ag_00000000000000000")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if keys.Len() != 3 {
		t.Fatalf("Len = %d", keys.Len())
	}
	tests := []struct {
		presented string
		name      string
		role      auth.Role
		ok        bool
	}{
		{widgetKey, "widget", auth.RoleWidget, true},
		{adminKey, "ops", auth.RoleAdmin, true},
		{"ag_00000000000000000", "console", auth.RoleAgent, true},
		{"", "", "", false},
		{widgetKey + "x", "", "", false},
		{auth.HashKey(widgetKey), "", "", false}, // the stored hash is not a key
	}
	for _, tt := range tests {
		name, role, ok := keys.Lookup(tt.presented)
		if name != tt.name || role != tt.role || ok != tt.ok {
			t.Errorf("Lookup(%q) = %q, %q, %v; want %q, %q, %v", tt.presented, name, role, ok, tt.name, tt.role, tt.ok)
		}
	}
}

func TestNilKeys(t *testing.T) {
	var k *auth.Keys
	if k.Len() != 0 {
		t.Fatal("nil Keys has keys")
	}
	if _, _, ok := k.Lookup("anything-at-all-here"); ok {
		t.Fatal("nil Keys matched")
	}
}

func TestNewKeysRejects(t *testing.T) {
	good := "0123456789abcdef0123"
	tests := []struct {
		name string
		cfg  []auth.KeyConfig
		want string
	}{
		{"no name", []auth.KeyConfig{{Role: auth.RoleWidget, Key: good}}, "no name"},
		{"dup name", []auth.KeyConfig{{Name: "a", Role: auth.RoleWidget, Key: good}, {Name: "a", Role: auth.RoleWidget, Key: good + "x"}}, "used twice"},
		{"bad role", []auth.KeyConfig{{Name: "a", Role: "root", Key: good}}, "role"},
		{"empty role", []auth.KeyConfig{{Name: "a", Key: good}}, "role"},
		{"both", []auth.KeyConfig{{Name: "a", Role: auth.RoleWidget, Key: good, Hash: auth.HashKey(good)}}, "not both"},
		{"neither", []auth.KeyConfig{{Name: "a", Role: auth.RoleWidget}}, "neither"},
		{"short key", []auth.KeyConfig{{Name: "a", Role: auth.RoleWidget, Key: "short"}}, "shorter"},
		{"bad hash prefix", []auth.KeyConfig{{Name: "a", Role: auth.RoleWidget, Hash: "md5:abc"}}, "hash must be"},
		{"bad hash hex", []auth.KeyConfig{{Name: "a", Role: auth.RoleWidget, Hash: "sha256:" + strings.Repeat("z", 64)}}, "hash must be"},
		{"short hash", []auth.KeyConfig{{Name: "a", Role: auth.RoleWidget, Hash: "sha256:abcd"}}, "hash must be"},
		{"same key twice", []auth.KeyConfig{{Name: "a", Role: auth.RoleWidget, Key: good}, {Name: "b", Role: auth.RoleAdmin, Hash: auth.HashKey(good)}}, "same key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auth.NewKeys(tt.cfg)
			if err == nil {
				t.Fatal("NewKeys succeeded")
			}
			if kefu.ErrorCode(err) != kefu.EInvalid {
				t.Errorf("code = %q", kefu.ErrorCode(err))
			}
			msg := kefu.ErrorMessage(err)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message = %q, want %q", msg, tt.want)
			}
			if strings.Contains(msg, good) {
				t.Errorf("message %q reveals the key", msg)
			}
		})
	}
}

func TestRoleAllows(t *testing.T) {
	tests := []struct {
		have, need auth.Role
		want       bool
	}{
		{auth.RoleWidget, auth.RoleWidget, true},
		{auth.RoleAgent, auth.RoleWidget, true},
		{auth.RoleAdmin, auth.RoleWidget, true},
		{auth.RoleAdmin, auth.RoleAgent, true},
		{auth.RoleWidget, auth.RoleAgent, false},
		{auth.RoleAgent, auth.RoleAdmin, false},
		{"", auth.RoleWidget, false},
		{"root", auth.RoleWidget, false},
		{auth.RoleAdmin, "", false},
	}
	for _, tt := range tests {
		if got := tt.have.Allows(tt.need); got != tt.want {
			t.Errorf("%q.Allows(%q) = %v, want %v", tt.have, tt.need, got, tt.want)
		}
	}
}
