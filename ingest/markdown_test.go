package ingest

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseMarkdown(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		h1       string
		front    map[string]string
		sections []string // "path | lead | body"
		err      string
	}{
		{
			name:     "front matter and nested headings",
			in:       "---\ntitle: Returns\nlocale: en\nupdated: 2024-03-01\n---\n# Returns\n\nIntro\n\n## Window ##\n\n30 days.\n\n### Hygiene\n\nSealed.\n\n## Fees\n\n10%.",
			h1:       "Returns",
			front:    map[string]string{"title": "Returns", "locale": "en", "updated": "2024-03-01"},
			sections: []string{"Returns | # Returns | Intro", "Returns > Window | ## Window | 30 days.", "Returns > Window > Hygiene | ### Hygiene | Sealed.", "Returns > Fees | ## Fees | 10%."},
		},
		{
			name:     "text before the first heading",
			in:       "Preamble.\n\n## Section\n\nBody.",
			sections: []string{" |  | Preamble.", "Section | ## Section | Body."},
		},
		{
			name:     "headings in code fences are text",
			in:       "# T\n\n```sh\n# comment\n## also\n```\n\n~~~~\n# x\n~~~\nstill code\n~~~~\n## Real",
			h1:       "T",
			sections: []string{"T | # T | ```sh\n# comment\n## also\n```\n\n~~~~\n# x\n~~~\nstill code\n~~~~", "T > Real | ## Real | "},
		},
		{
			name:     "not headings",
			in:       "#hashtag\n####### seven\n    # indented code\n#",
			sections: []string{" |  | #hashtag\n####### seven\n    # indented code\n#"},
		},
		{
			name:     "unclosed front matter is a rule",
			in:       "---\ntext after a rule",
			sections: []string{" |  | ---\ntext after a rule"},
		},
		{
			name:     "empty front matter",
			in:       "---\n---\nBody",
			front:    map[string]string{},
			sections: []string{" |  | Body"},
		},
		{
			name: "front matter that is not a mapping",
			in:   "---\n- a\n- b\n---\nBody",
			err:  "front matter: want key: value lines",
		},
		{
			name: "bad yaml",
			in:   "---\ntitle: [x\n---\nBody",
			err:  "front matter: yaml:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md, err := parseMarkdown(tt.in, true)
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if md.h1 != tt.h1 {
				t.Errorf("h1 = %q, want %q", md.h1, tt.h1)
			}
			if tt.front != nil && fmt.Sprint(md.front) != fmt.Sprint(tt.front) {
				t.Errorf("front = %v, want %v", md.front, tt.front)
			}
			var got []string
			for _, s := range md.sections {
				got = append(got, strings.Join(s.path, " > ")+" | "+s.lead+" | "+s.body)
			}
			if strings.Join(got, "\n--\n") != strings.Join(tt.sections, "\n--\n") {
				t.Errorf("sections =\n%q\nwant\n%q", got, tt.sections)
			}
		})
	}
}

func TestCleanText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a\r\nb\rc", "a\nb\nc"},
		{"  x  \n\n\n\n y \n", "  x\n\n y"},
		{"zero\u200bwidth\u0000 and \ufeffbom", "zerowidth and bom"},
		{"e\u0301", "é"}, // NFC
		{"\t tab kept", "\t tab kept"},
	}
	for _, tt := range tests {
		if got := cleanText(tt.in); got != tt.want {
			t.Errorf("cleanText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
