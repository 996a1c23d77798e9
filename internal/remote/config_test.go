package remote

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestBaseURL(t *testing.T) {
	for _, tt := range []struct{ raw, want string }{
		{"", "https://default/v1"}, {"http://h:1/v1//", "http://h:1/v1"}, {"http://h", "http://h"},
	} {
		if got := BaseURL(tt.raw, "https://default/v1"); got != tt.want {
			t.Errorf("BaseURL(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestHTTPURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://api.example.com/v1": true, "http://localhost:11434": true,
		"ftp://h": false, "localhost:11434": false, "http://": false, "http://user:hunter2@%zz": false,
	} {
		t.Run(raw, func(t *testing.T) {
			_, err := HTTPURL(raw)
			if (err == nil) != ok {
				t.Fatalf("HTTPURL(%q) error %v, want ok %t", raw, err, ok)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestConfigViewHidesKey(t *testing.T) {
	v := ConfigView{Kind: "x.Config", BaseURL: "https://u:pw-secret@h/v1", Model: "m", KeySet: true,
		MaxTokens: 7, Timeout: time.Second}
	for _, s := range []string{v.LogValue().String(), v.String(), fmt.Sprintf("%v", v)} {
		if strings.Contains(s, "sk-secret") || strings.Contains(s, "pw-secret") {
			t.Errorf("shows a secret: %s", s)
		}
	}
	if want := "x.Config{BaseURL: https://u:xxxxx@h/v1, Model: m, APIKey set: true, MaxTokens: 7, Timeout: 1s}"; v.String() != want {
		t.Errorf("String = %s, want %s", v.String(), want)
	}
}
