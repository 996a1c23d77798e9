package tokenize

import (
	"strings"
	"testing"
)

func TestSentencesKeepsListNumbers(t *testing.T) {
	got := Sentences("安装基本要求：1. 安装环境需通风良好。2. 墙面需为承重墙。Costs ¥12. Then pay.")
	want := []string{"安装基本要求：1. 安装环境需通风良好。", "2. 墙面需为承重墙。", "Costs ¥12.", "Then pay."}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Sentences = %q, want %q", got, want)
	}
}
