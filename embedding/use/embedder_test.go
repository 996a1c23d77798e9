package use

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func norm2(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return s
}

func TestEmbedderReadsEnglishNotChinese(t *testing.T) {
	e := NewEmbedder(testEncoder(t))
	if e.Dims() != Dims || e.Name() == "" {
		t.Fatalf("Dims %d, Name %q", e.Dims(), e.Name())
	}
	texts := []string{"How long does a refund take?", "退款需要多久？", "", "我想退货 please help me with a return", "환불은 언제 되나요", "🚚"}
	vecs, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false, false, true, false, false} {
		n := norm2(vecs[i])
		if len(vecs[i]) != Dims {
			t.Errorf("%q: %d dims", texts[i], len(vecs[i]))
		}
		if want && math.Abs(n-1) > 1e-4 {
			t.Errorf("%q: norm² %.4f, want a unit vector", texts[i], n)
		}
		if !want && n != 0 {
			t.Errorf("%q: norm² %.4f, want the zero vector (the vocabulary cannot read it)", texts[i], n)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Embed(ctx, texts); err == nil {
		t.Error("Embed with a done context succeeded")
	}
}

func TestVectorBoundedInput(t *testing.T) {
	e := testEncoder(t)
	long := ""
	for len(long) < 1<<20 {
		long += "the parcel arrived late and the box was damaged; "
	}
	if n := len(e.Tokenizer().Encode(long)); n > MaxChars {
		t.Fatalf("%d pieces from a cut text", n)
	}
	if n := norm2(e.Vector(long)); math.Abs(n-1) > 1e-4 {
		t.Errorf("a 1 MB text: norm² %.4f", n)
	}
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil {
		t.Error("Load of an empty folder succeeded")
	}
	if err := os.WriteFile(filepath.Join(dir, "vocab.json"), []byte(toyVocab), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{
		`{}`,
		`{"weightsManifest":[{"paths":["../x"],"weights":[]}]}`,
		`{"weightsManifest":[{"paths":["w"],"weights":[{"name":"module/Embeddings_en","shape":[18,256],"dtype":"float32"}]}]}`,
		`{"weightsManifest":[{"paths":["w"],"weights":[{"name":"a","shape":[2],"dtype":"float16"}]}]}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, "model.json"), []byte(m), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "w"), make([]byte, 8), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err == nil {
			t.Errorf("Load with model.json %s succeeded", m)
		}
	}
}

func TestEmbedderReadsLongTextsWhole(t *testing.T) {
	e := testEncoder(t)
	emb := NewEmbedder(e)
	head := strings.Repeat("the parcel arrived late and the box was damaged. ", 20)
	tail := strings.Repeat("how do i pair the headphones with my phone over bluetooth? ", 20)
	if n := len(e.Tokenizer().Encode(head)); n <= MaxPieces {
		t.Fatalf("head has %d pieces, want more than %d", n, MaxPieces)
	}
	vecs, err := emb.Embed(context.Background(), []string{head + tail, tail})
	if err != nil {
		t.Fatal(err)
	}
	if n := norm2(vecs[0]); math.Abs(n-1) > 1e-4 {
		t.Errorf("norm² %.4f", n)
	}
	first, whole, only := e.Vector(head+tail), vecs[0], vecs[1]
	var cosFirst, cosWhole float64
	for k := range only {
		cosFirst += float64(first[k]) * float64(only[k])
		cosWhole += float64(whole[k]) * float64(only[k])
	}
	// The graph alone reads only the head; the embedder's vector also
	// carries the tail.
	if cosWhole <= cosFirst+0.05 {
		t.Errorf("cosine with the tail: whole text %.3f, first window %.3f; want the whole text clearly nearer", cosWhole, cosFirst)
	}
}
