package guard

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

type urgentCase struct {
	Split, Reason, Text string
}

func readUrgentCases(t *testing.T) []urgentCase {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "urgent.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []urgentCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c urgentCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// TestUrgent checks the phrasings the cues were written from (the build
// split) one by one, and scores the held-out phrasings, written apart from
// the cues, as a whole: at least 80% right, the bar set before they were
// first run. Each wrong held-out case is logged.
func TestUrgent(t *testing.T) {
	right, total := 0, 0
	for _, c := range readUrgentCases(t) {
		reason, ok := Urgent(c.Text)
		good := reason == c.Reason && ok == (c.Reason != "")
		switch c.Split {
		case "build":
			if !good {
				t.Errorf("Urgent(%q) = %q, want %q", c.Text, reason, c.Reason)
			}
		case "heldout":
			total++
			if good {
				right++
			} else {
				t.Logf("held out: Urgent(%q) = %q, want %q", c.Text, reason, c.Reason)
			}
		}
	}
	rate := float64(right) / float64(total)
	t.Logf("held-out phrasings: %d of %d right (%.2f)", right, total, rate)
	if total < 30 || rate < 0.8 {
		t.Errorf("held-out: %d of %d right, want at least 80%%", right, total)
	}
}

// TestUrgentQuietOnEverydayQuestions runs the demo shop's benign
// questions (none reports a fire, an injury or a fraud) through Urgent:
// at most 1% may be flagged.
func TestUrgentQuietOnEverydayQuestions(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "examples", "demo-shop", "golden-benign.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flagged, total := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c struct{ Question string }
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		total++
		if reason, ok := Urgent(c.Question); ok {
			flagged++
			t.Logf("flagged %s: %q", reason, c.Question)
		}
	}
	if total < 100 || float64(flagged) > 0.01*float64(total) {
		t.Errorf("%d of %d everyday questions flagged urgent", flagged, total)
	}
}

func TestUrgentFoldsText(t *testing.T) {
	for _, s := range []string{"MY KETTLE CAUGHT FIRE", "my  kettle\tcaught   fire", "ｍｙ ｋｅｔｔｌｅ ｃａｕｇｈｔ ｆｉｒｅ", "I didn’t authorise this charge"} {
		if _, ok := Urgent(s); !ok {
			t.Errorf("Urgent(%q) not urgent", s)
		}
	}
	if _, ok := Urgent(""); ok {
		t.Error("empty text is urgent")
	}
}
