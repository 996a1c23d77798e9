package prompts

import (
	"embed"
	"fmt"
	"strings"
	"text/template"
)

// Version changes whenever a template's meaning changes; it is recorded with
// each answer so an answer can be traced to the prompt that produced it.
const Version = "2026-12-03.1"

// Locales are the languages with templates; others fall back to DefaultLocale.
var Locales = []string{"en", "zh"}

// DefaultLocale is used for a locale without templates.
const DefaultLocale = "en"

//go:embed templates/*.tmpl
var files embed.FS

var funcs = template.FuncMap{"inc": func(i int) int { return i + 1 }}

// Set is the parsed templates of every locale. The zero value is not usable;
// call Load.
type Set struct {
	byLocale map[string]*template.Template
}

// Load parses the embedded templates. It fails only if a template is broken,
// which the package's tests rule out.
func Load() (*Set, error) {
	s := &Set{byLocale: map[string]*template.Template{}}
	for _, loc := range Locales {
		t, err := template.New(loc).Option("missingkey=error").Funcs(funcs).ParseFS(files, "templates/*."+loc+".tmpl")
		if err != nil {
			return nil, fmt.Errorf("parse %s templates: %w", loc, err)
		}
		s.byLocale[loc] = t
	}
	return s, nil
}

// MustLoad is Load for program start-up and tests, where a broken embedded
// template is a build defect.
func MustLoad() *Set {
	s, err := Load()
	if err != nil {
		panic(err)
	}
	return s
}

// Render executes the template name for locale with data. The result is
// trimmed of surrounding white space.
func (s *Set) Render(locale, name string, data any) (string, error) {
	t, ok := s.byLocale[locale]
	if !ok {
		t = s.byLocale[DefaultLocale]
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("render prompt %s/%s: %w", locale, name, err)
	}
	return strings.TrimSpace(b.String()), nil
}
