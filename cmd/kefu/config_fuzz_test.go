package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadConfig feeds LoadConfig arbitrary kefu.yaml files and one
// arbitrary environment variable: it must return a config or an error,
// never panic, and a config it accepts must pass its own validation again.
func FuzzLoadConfig(f *testing.F) {
	example, err := os.ReadFile("../../kefu.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example), 0, "")
	f.Add("server:\n  addr: \":9090\"\nretrieval:\n  top_k: 5\n", 5, "20")
	f.Add("server: [1, 2]\n", 2, "-1")
	f.Add("escalation:\n  webhook:\n    url: \"http://\"\n", 3, "not a number")
	f.Add("shop:\n  name: {en: A, zh: B}\n", 10, "1e309")
	f.Add("{", 1, "\x00")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, file string, key int, value string) {
		path := filepath.Join(dir, "kefu.yaml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		env := ""
		if len(configKeys) > 0 {
			env = configKeys[(key%len(configKeys)+len(configKeys))%len(configKeys)].Env
		}
		getenv := func(name string) string {
			if name == env && !strings.HasSuffix(name, "_FILE") {
				return value
			}
			return ""
		}
		c, err := LoadConfig(path, getenv)
		if err != nil {
			return
		}
		if err := c.validate(); err != nil {
			t.Fatalf("accepted config fails its own validation: %v", err)
		}
	})
}
