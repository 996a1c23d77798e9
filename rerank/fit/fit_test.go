package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCommittedWeightsAreTheFit refits the reranker the way
// scripts/fit-rerank.sh does and checks that the committed weights file is
// what the fit produces. It needs the public corpora next to the
// repository, and skips without them or in -short mode (it takes a minute
// or two).
func TestCommittedWeightsAreTheFit(t *testing.T) {
	if testing.Short() {
		t.Skip("refitting takes a minute or two")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(root, "..", "shared", "data")
	if _, err := os.Stat(filepath.Join(data, "README.md")); err != nil {
		t.Skip("no public corpora next to the repository")
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "fit-rerank.sh"))
	cmd.Env = append(os.Environ(), "CHECK=1", "DATA="+data)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the committed weights are not what the fit produces: %v\n%s", err, out)
	}
}
