package ingest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// markdown is a parsed Markdown file.
type markdown struct {
	front    map[string]string // front matter scalars, keys lower-cased
	h1       string            // text of the first "# " heading
	body     string            // the text after the front matter
	sections []section
}

// parseMarkdown reads optional YAML front matter and splits the rest into
// sections at ATX headings ("## Opened items"), outside fenced code. text
// must already be cleaned. Only malformed front matter is an error.
func parseMarkdown(text string, frontMatter bool) (markdown, error) {
	var md markdown
	body := text
	if frontMatter {
		fm, rest, err := splitFrontMatter(text)
		if err != nil {
			return md, err
		}
		md.front, body = fm, rest
	}
	md.body = strings.TrimSpace(cleanText(htmlComment.ReplaceAllString(body, "")))
	md.sections, md.h1 = splitSections(md.body)
	md.sections = splitArticles(md.sections)
	return md, nil
}

// htmlComment matches an HTML comment, which Markdown does not show.
var htmlComment = regexp.MustCompile(`(?s)<!--.*?-->`)

// articleStart matches the number a statute's article starts with: "第十五条
// ", "第二十五条之一 ", "Article 12". A section holding several articles is
// cut into one section per article, so that no chunk holds the end of one
// article and the start of the next.
var articleStart = regexp.MustCompile(`^(第[一二三四五六七八九十百千零〇两0-9]+条(之[一二三四五六七八九十]+)?|Article [0-9]+[A-Za-z]?\.?)(\s|　|$)`)

// splitArticles cuts every section that holds at least two articles into
// its preamble and its articles. An article runs from the paragraph that
// starts with its number to the next article; its number joins the
// section's path and starts every chunk after the first.
func splitArticles(secs []section) []section {
	var out []section
	for _, s := range secs {
		paras := strings.Split(s.body, "\n\n")
		n := 0
		for _, p := range paras {
			if articleStart.MatchString(p) {
				n++
			}
		}
		if n < 2 {
			out = append(out, s)
			continue
		}
		cur := section{path: s.path, lead: s.lead}
		var body []string
		flush := func() {
			cur.body = strings.TrimSpace(strings.Join(body, "\n\n"))
			if cur.body != "" {
				out = append(out, cur)
			}
			body = nil
		}
		for _, p := range paras {
			if m := articleStart.FindStringSubmatch(p); m != nil {
				flush()
				num := strings.TrimSpace(m[1])
				cur = section{path: append(slices.Clip(s.path), num), lead: s.lead, carry: num}
			}
			body = append(body, p)
		}
		flush()
	}
	return out
}

// splitFrontMatter separates a leading "---" YAML block from the body. A
// block that is never closed is not front matter (it is a rule followed by
// text) and stays in the body.
func splitFrontMatter(text string) (map[string]string, string, error) {
	first, rest, ok := strings.Cut(text, "\n")
	if !ok || strings.TrimSpace(first) != "---" {
		return nil, text, nil
	}
	var yamlText string
	found := false
	for off := 0; off <= len(rest); {
		line, _, _ := strings.Cut(rest[off:], "\n")
		if t := strings.TrimSpace(line); t == "---" || t == "..." {
			yamlText = rest[:off]
			rest = rest[min(off+len(line)+1, len(rest)):]
			found = true
			break
		}
		off += len(line) + 1
	}
	if !found {
		return nil, text, nil
	}
	fm, err := parseFrontMatter(yamlText)
	if err != nil {
		return nil, text, fmt.Errorf("front matter: %w", err)
	}
	return fm, rest, nil
}

// parseFrontMatter keeps the scalar values of a YAML mapping as written
// (dates stay "2024-03-01"), and lists of scalars joined by ", ".
func parseFrontMatter(src string) (map[string]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return nil, err
	}
	fm := map[string]string{}
	if len(doc.Content) == 0 {
		return fm, nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("want key: value lines")
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		key := strings.ToLower(strings.TrimSpace(k.Value))
		if key == "" {
			continue
		}
		switch v.Kind {
		case yaml.ScalarNode:
			if s := strings.TrimSpace(v.Value); s != "" {
				fm[key] = s
			}
		case yaml.SequenceNode:
			var vals []string
			for _, e := range v.Content {
				if e.Kind == yaml.ScalarNode && strings.TrimSpace(e.Value) != "" {
					vals = append(vals, strings.TrimSpace(e.Value))
				}
			}
			if len(vals) > 0 {
				fm[key] = strings.Join(vals, ", ")
			}
		}
	}
	return fm, nil
}

// splitSections cuts Markdown at its headings. Each section's path holds
// the headings above it ("Returns and refunds", "Opened items") and its lead
// is its own heading line, normalised. Text before the first heading is a
// section with no path. It also returns the first level-1 heading.
func splitSections(body string) ([]section, string) {
	type open struct {
		level int
		text  string
	}
	var (
		secs  []section
		stack []open
		h1    string
		cur   section
		lines []string
		fence string // the opening fence while inside fenced code
	)
	flush := func() {
		cur.body = strings.TrimSpace(strings.Join(lines, "\n"))
		if cur.body != "" || cur.lead != "" {
			secs = append(secs, cur)
		}
		lines = nil
	}
	for line := range strings.SplitSeq(body, "\n") {
		if f := fenceOf(line); f != "" {
			switch {
			case fence == "":
				fence = f
			case strings.HasPrefix(f, fence) && strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), f[:1])) == "":
				fence = ""
			}
		}
		level, text := 0, ""
		if fence == "" {
			level, text = atxHeading(line)
		}
		if level == 0 {
			lines = append(lines, line)
			continue
		}
		flush()
		for len(stack) > 0 && stack[len(stack)-1].level >= level {
			stack = stack[:len(stack)-1]
		}
		stack = append(stack, open{level, text})
		if level == 1 && h1 == "" {
			h1 = text
		}
		path := make([]string, len(stack))
		for i, o := range stack {
			path[i] = o.text
		}
		cur = section{path: path, lead: strings.Repeat("#", level) + " " + text}
	}
	flush()
	return secs, h1
}

// fenceOf returns the fence (``` or ~~~, possibly longer) a line starts
// with, or "".
func fenceOf(line string) string {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 || len(t) < 3 {
		return ""
	}
	c := t[0]
	if c != '`' && c != '~' {
		return ""
	}
	n := 0
	for n < len(t) && t[n] == c {
		n++
	}
	if n < 3 {
		return ""
	}
	return t[:n]
}

// atxHeading parses "## Opened items ##" into (2, "Opened items"); it
// returns level 0 for any other line.
func atxHeading(line string) (int, string) {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 {
		return 0, ""
	}
	level := 0
	for level < len(t) && t[level] == '#' {
		level++
	}
	if level == 0 || level > 6 {
		return 0, ""
	}
	rest := t[level:]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return 0, "" // "#hashtag"
	}
	text := strings.TrimSpace(rest)
	// Optional closing sequence: "## Title ##".
	if trimmed := strings.TrimRight(text, "#"); trimmed != text {
		if trimmed == "" || strings.HasSuffix(trimmed, " ") || strings.HasSuffix(trimmed, "\t") {
			text = strings.TrimSpace(trimmed)
		}
	}
	if text == "" {
		return 0, ""
	}
	return level, text
}
