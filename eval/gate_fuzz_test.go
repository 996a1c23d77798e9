package eval

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadGate feeds LoadGate arbitrary gate files: it returns a gate or
// an error, never panics, and a gate it accepts checks any report.
func FuzzLoadGate(f *testing.F) {
	for _, name := range []string{"demo", "attacks", "benign", "intents"} {
		if raw, err := os.ReadFile(filepath.Join("gates", name+".json")); err == nil {
			f.Add(string(raw))
		}
	}
	f.Add(`{"min": {"hit_at_5": 0.9}, "max": {"forbidden_hits": 0}}`)
	f.Add(`{"min_vs_baseline": {"hit_at_5": 0}}`)
	f.Add(`{"min": {"no_such_metric": 1}}`)
	f.Add(`{}`)
	f.Add(`[`)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, file string) {
		path := filepath.Join(dir, "gate.json")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		g, err := LoadGate(path)
		if err != nil {
			return
		}
		_ = g.Check(Report{})
		_ = g.Check(Report{Baseline: &BaselineReport{}})
	})
}
