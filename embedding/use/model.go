package use

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Limits on the files a model directory may hold, so that a wrong
// directory fails fast instead of filling memory.
const (
	maxModelJSON  = 8 << 20
	maxVocabJSON  = 8 << 20
	maxWeightData = 256 << 20
)

// tensor is one weight: its shape and its values, float32 or int32.
type tensor struct {
	shape []int
	f     []float32
	i     []int32
}

// manifest is the part of model.json that says where the weights are.
type manifest struct {
	WeightsManifest []struct {
		Paths   []string `json:"paths"`
		Weights []struct {
			Name         string          `json:"name"`
			Shape        []int           `json:"shape"`
			Dtype        string          `json:"dtype"`
			Quantization json.RawMessage `json:"quantization"`
		} `json:"weights"`
	} `json:"weightsManifest"`
}

// readWeights reads model.json's weights manifest and its shards in dir.
func readWeights(dir string) (map[string]tensor, error) {
	b, err := readLimited(filepath.Join(dir, "model.json"), maxModelJSON)
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read model.json: %w", err)
	}
	out := map[string]tensor{}
	total := 0
	for _, g := range m.WeightsManifest {
		var data []byte
		for _, p := range g.Paths {
			if p != filepath.Base(p) || strings.HasPrefix(p, ".") {
				return nil, fmt.Errorf("model.json names weight file %q outside the model directory", p)
			}
			shard, err := readLimited(filepath.Join(dir, p), maxWeightData-total)
			if err != nil {
				return nil, err
			}
			total += len(shard)
			data = append(data, shard...)
		}
		for _, w := range g.Weights {
			if len(w.Quantization) > 0 && string(w.Quantization) != "null" {
				return nil, fmt.Errorf("weight %s is quantised; only float32 and int32 weights are read", w.Name)
			}
			n := 1
			for _, d := range w.Shape {
				if d < 0 || (d > 0 && n > math.MaxInt32/d) {
					return nil, fmt.Errorf("weight %s has shape %v", w.Name, w.Shape)
				}
				n *= d
			}
			if len(data) < 4*n {
				return nil, fmt.Errorf("weight %s: the weight files end early", w.Name)
			}
			t := tensor{shape: w.Shape}
			switch w.Dtype {
			case "float32":
				t.f = make([]float32, n)
				for k := range t.f {
					t.f[k] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*k:]))
				}
			case "int32":
				t.i = make([]int32, n)
				for k := range t.i {
					t.i[k] = int32(binary.LittleEndian.Uint32(data[4*k:]))
				}
			default:
				return nil, fmt.Errorf("weight %s has dtype %s; only float32 and int32 are read", w.Name, w.Dtype)
			}
			data = data[4*n:]
			out[w.Name] = t
		}
		if len(data) != 0 {
			return nil, fmt.Errorf("weight files of %v hold %d bytes more than the manifest lists", g.Paths, len(data))
		}
	}
	return out, nil
}

// readLimited reads a whole file, failing when it is larger than limit.
func readLimited(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// errShape reports a weight that is missing or not the expected shape.
var errShape = errors.New("weight missing or of an unexpected shape")

// weights looks tensors up by name and checks their shapes.
type weights struct {
	m   map[string]tensor
	err error
}

// float returns the float32 weight name, which must have shape dims.
func (w *weights) float(name string, dims ...int) []float32 {
	t, ok := w.m[name]
	if w.err != nil {
		return nil
	}
	if !ok || t.f == nil || !sameShape(t.shape, dims) {
		w.err = fmt.Errorf("%w: %s (want float32 %v, have %v)", errShape, name, dims, t.shape)
		return nil
	}
	return t.f
}

// scalarInt returns the int32 scalar weight name.
func (w *weights) scalarInt(name string) int {
	t, ok := w.m[name]
	if w.err != nil {
		return 0
	}
	if !ok || len(t.i) != 1 || len(t.shape) != 0 {
		w.err = fmt.Errorf("%w: %s (want an int32 scalar)", errShape, name)
		return 0
	}
	return int(t.i[0])
}

// scalarFloat returns the float32 scalar weight name.
func (w *weights) scalarFloat(name string) float32 {
	v := w.float(name)
	if v == nil || len(v) != 1 {
		if w.err == nil {
			w.err = fmt.Errorf("%w: %s (want a float32 scalar)", errShape, name)
		}
		return 0
	}
	return v[0]
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
