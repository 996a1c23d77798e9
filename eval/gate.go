package eval

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"

	"github.com/kefuhq/kefu"
)

// Gate is a regression gate: floors and ceilings on report metrics, named by
// their JSON keys. {"min": {"hit_at_5": 0.9}, "max": {"forbidden_hits": 0}}
//
// MinVsBaseline holds floors on the difference between kefu's retrieval
// metric and plain BM25's in the same run ({"hit_at_5": 0}: never below
// BM25); such a gate needs a run with the baseline (kefu eval --baseline).
type Gate struct {
	Min           map[string]float64 `json:"min"`
	Max           map[string]float64 `json:"max"`
	MinVsBaseline map[string]float64 `json:"min_vs_baseline,omitempty"`
}

// baselineMetrics are the metrics a BaselineReport has, the ones
// MinVsBaseline may name.
var baselineMetrics = []string{"hit_at_1", "hit_at_5", "hit_at_10", "mrr_at_10", "recall_at_10"}

// LoadGate reads a gate file; an unknown metric name is an error, so a typo
// cannot switch a check off.
func LoadGate(path string) (Gate, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Gate{}, kefu.WrapError(kefu.EInvalid, fmt.Sprintf("cannot read gate %s", path), err)
	}
	var g Gate
	if err := json.Unmarshal(raw, &g); err != nil {
		return Gate{}, kefu.Errorf(kefu.EInvalid, "gate %s: %v", path, err)
	}
	metrics := Report{}.metrics()
	for _, m := range []map[string]float64{g.Min, g.Max} {
		for name := range m {
			if _, ok := metrics[name]; !ok {
				return Gate{}, kefu.Errorf(kefu.EInvalid, "gate %s: unknown metric %q", path, name)
			}
		}
	}
	for name := range g.MinVsBaseline {
		if !slices.Contains(baselineMetrics, name) {
			return Gate{}, kefu.Errorf(kefu.EInvalid, "gate %s: min_vs_baseline names %q; the baseline has %v", path, name, baselineMetrics)
		}
	}
	if len(g.Min)+len(g.Max)+len(g.MinVsBaseline) == 0 {
		return Gate{}, kefu.Errorf(kefu.EInvalid, "gate %s has no thresholds", path)
	}
	return g, nil
}

// Check returns one line per violated threshold, sorted; none means pass.
func (g Gate) Check(r Report) []string {
	m := r.metrics()
	var out []string
	for name, floor := range g.Min {
		if m[name] < floor {
			out = append(out, fmt.Sprintf("%s = %.4g, below the floor %.4g", name, m[name], floor))
		}
	}
	for name, ceil := range g.Max {
		if m[name] > ceil {
			out = append(out, fmt.Sprintf("%s = %.4g, above the ceiling %.4g", name, m[name], ceil))
		}
	}
	if len(g.MinVsBaseline) > 0 && r.Baseline == nil {
		out = append(out, "min_vs_baseline needs the BM25 baseline in the same run (kefu eval --baseline)")
	} else if len(g.MinVsBaseline) > 0 {
		raw, _ := json.Marshal(r.Baseline)
		var base map[string]any
		_ = json.Unmarshal(raw, &base)
		for name, floor := range g.MinVsBaseline {
			b, _ := base[name].(float64)
			if d := m[name] - b; d < floor-1e-9 {
				out = append(out, fmt.Sprintf("%s = %.4g, BM25 %.4g: %.4g from BM25, below the floor %+.4g", name, m[name], b, d, floor))
			}
		}
	}
	sort.Strings(out)
	return out
}

// metrics returns the report's numeric fields by JSON key.
func (r Report) metrics() map[string]float64 {
	raw, _ := json.Marshal(r)
	var all map[string]any
	_ = json.Unmarshal(raw, &all)
	out := map[string]float64{}
	for k, v := range all {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}
