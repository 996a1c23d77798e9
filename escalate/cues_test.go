package escalate

import "testing"

// FuzzCuePrefilter: the cue patterns' literal prefilter never turns down a
// message the pattern matches.
func FuzzCuePrefilter(f *testing.F) {
	for _, s := range []string{"i will sue you", "unauthorised charge on my card", "我要投诉", "refunds please", "Chargeback"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, re := range append(sensitivePatterns, refundPattern) {
			if re.Regexp.MatchString(s) && !re.MayMatch(s) {
				t.Fatalf("%.60s matches %q, but the prefilter turned it down", re.String(), s)
			}
		}
	})
}
