package escalate

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/kefuhq/kefu/rag"
)

// Team is a queue of human agents and the tickets it takes: those whose
// intent, locale and reason are in its lists (an empty list takes any).
// Teams are tried in order and the first that takes a ticket gets it, so
// list the narrow teams before the broad ones.
type Team struct {
	Name    string   `yaml:"name" json:"name"`
	Intents []string `yaml:"intents" json:"intents,omitempty"`
	Locales []string `yaml:"locales" json:"locales,omitempty"`
	Reasons []string `yaml:"reasons" json:"reasons,omitempty"`
}

// takes reports whether the team takes a ticket.
func (t Team) takes(reason, intent, locale string) bool {
	in := func(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }
	return in(t.Intents, intent) && in(t.Locales, locale) && in(t.Reasons, reason)
}

// DefaultTeam takes whatever no configured team takes.
const DefaultTeam = "support"

// route names the team for a ticket.
func route(teams []Team, fallback, reason, intent, locale string) string {
	for _, t := range teams {
		if t.takes(reason, intent, locale) {
			return t.Name
		}
	}
	return fallback
}

// intents are the intents a team may list.
var intents = []string{
	rag.IntentOrderStatus, rag.IntentReturn, rag.IntentShipping, rag.IntentProduct, rag.IntentPayment, rag.IntentAccount,
	rag.IntentWarranty, rag.IntentComplaint, rag.IntentHuman, rag.IntentChitChat, rag.IntentOutOfScope, rag.IntentOther,
}

var teamName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// validTeams checks team names and the intents and reasons they list.
func validTeams(teams []Team, fallback string) error {
	if !teamName.MatchString(fallback) {
		return fmt.Errorf("default team %q is not 1-64 of a-z 0-9 _ - (starting with a letter or digit)", fallback)
	}
	seen := map[string]bool{}
	for i, t := range teams {
		switch {
		case !teamName.MatchString(t.Name):
			return fmt.Errorf("team #%d: name %q is not 1-64 of a-z 0-9 _ - (starting with a letter or digit)", i+1, t.Name)
		case seen[t.Name]:
			return fmt.Errorf("team %q is listed twice", t.Name)
		}
		seen[t.Name] = true
		for _, it := range t.Intents {
			if !slices.Contains(intents, it) {
				return fmt.Errorf("team %q: intent %q is not one of %s", t.Name, it, strings.Join(intents, ", "))
			}
		}
		for _, r := range t.Reasons {
			if !slices.Contains(Reasons, r) {
				return fmt.Errorf("team %q: reason %q is not one of %s", t.Name, r, strings.Join(Reasons, ", "))
			}
		}
		for _, l := range t.Locales {
			if l == "" || len(l) > 16 {
				return fmt.Errorf("team %q: locale %q is not a language code such as en or zh", t.Name, l)
			}
		}
	}
	return nil
}

// ParseTeams reads teams from their one-line form (an environment
// variable): teams separated by ";", each "name:intents:locales:reasons"
// with the lists separated by "," and trailing parts optional; an empty
// list takes any. "returns-zh:return_refund:zh;legal:::legal,chargeback"
// sends Chinese return questions to returns-zh and legal threats and
// chargebacks in any language to legal.
func ParseTeams(s string) ([]Team, error) {
	var out []Team
	for _, entry := range strings.Split(s, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		parts := strings.Split(entry, ":")
		if len(parts) > 4 {
			return nil, fmt.Errorf("team %q: want name:intents:locales:reasons", entry)
		}
		parts = append(parts, "", "", "")
		t := Team{Name: strings.TrimSpace(parts[0]), Intents: list(parts[1]), Locales: list(parts[2]), Reasons: list(parts[3])}
		out = append(out, t)
	}
	if err := validTeams(out, DefaultTeam); err != nil {
		return nil, err
	}
	return out, nil
}

func list(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
