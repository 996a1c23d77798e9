package eval

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/kefuhq/kefu"
)

// Gate is a regression gate: floors and ceilings on report metrics, named by
// their JSON keys. {"min": {"hit_at_5": 0.9}, "max": {"forbidden_hits": 0}}
type Gate struct {
	Min map[string]float64 `json:"min"`
	Max map[string]float64 `json:"max"`
}

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
	if len(g.Min)+len(g.Max) == 0 {
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
