package ingest

import (
	"fmt"
	"strings"

	"github.com/JohannesKaufmann/html-to-markdown/v2/converter"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/base"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/commonmark"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/table"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlToMarkdown converts a page to Markdown, keeping its main content: a
// <main> element when there is one, without scripts, styles, navigation,
// and the site header and footer (a header or footer inside <main> or an
// <article> belongs to the content and stays). It also returns the page's
// <title> and declared language.
func htmlToMarkdown(src string) (prose, string, error) {
	var p prose
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil {
		return p, "", fmt.Errorf("parse HTML: %w", err)
	}
	var (
		main   *html.Node
		remove []*html.Node
	)
	var walk func(n *html.Node, inContent bool)
	walk = func(n *html.Node, inContent bool) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Html:
				p.weakLocale = attr(n, "lang")
			case atom.Title:
				if p.title == "" {
					p.title = oneLine(textOf(n))
				}
			case atom.Script, atom.Style, atom.Nav, atom.Noscript, atom.Template, atom.Svg, atom.Iframe:
				remove = append(remove, n)
				return
			case atom.Header, atom.Footer:
				if !inContent {
					remove = append(remove, n)
					return
				}
			case atom.Main:
				if main == nil {
					main = n
				}
				inContent = true
			case atom.Article:
				inContent = true
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inContent)
		}
	}
	walk(doc, false)
	for _, n := range remove {
		if n.Parent != nil {
			n.Parent.RemoveChild(n)
		}
	}
	root := doc
	if main != nil {
		root = main
	}
	conv := converter.NewConverter(converter.WithPlugins(
		base.NewBasePlugin(),
		commonmark.NewCommonmarkPlugin(),
		table.NewTablePlugin(table.WithSkipEmptyRows(true), table.WithCellPaddingBehavior(table.CellPaddingBehaviorMinimal)),
	))
	md, err := conv.ConvertNode(root)
	if err != nil {
		return p, "", fmt.Errorf("convert HTML: %w", err)
	}
	return p, string(md), nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}
