package tokens

import (
	"bytes"
	"compress/gzip"
	"maps"
	"strings"
	"testing"

	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

// The ranks compiled into kefu are the ones the tiktoken-go loader ships.
func TestRanksMatchTheLoaderModule(t *testing.T) {
	ours, err := offlineLoader{}.LoadTiktokenBpe("https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := tiktoken_loader.NewOfflineLoader().LoadTiktokenBpe("cl100k_base.tiktoken")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(ours, theirs) {
		t.Fatalf("compiled-in ranks differ from the loader module's: %d tokens against %d", len(ours), len(theirs))
	}
}

func TestLoaderRefusesWhatIsNotCompiledIn(t *testing.T) {
	if _, err := (offlineLoader{}).LoadTiktokenBpe("https://example.com/o200k_base.tiktoken"); err == nil || !strings.Contains(err.Error(), "o200k_base") {
		t.Fatalf("err = %v, want one naming o200k_base", err)
	}
}

func TestParseRanksRefusesABrokenFile(t *testing.T) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	for name, in := range map[string][]byte{
		"not gzip":   []byte("IQ== 0\n"),
		"no rank":    gz("IQ==\n"),
		"bad base64": gz("!!! 0\n"),
		"bad rank":   gz("IQ== x\n"),
		"too few":    gz("IQ== 0\nIg== 1\n"),
	} {
		if _, err := parseRanks(in); err == nil {
			t.Errorf("%s: parsed without an error", name)
		}
	}
}

func FuzzParseRanks(f *testing.F) {
	f.Add([]byte("IQ== 0\n"))
	f.Add(cl100kRanks[:64])
	f.Fuzz(func(t *testing.T, data []byte) {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(data)
		w.Close()
		parseRanks(b.Bytes())
		parseRanks(data)
	})
}

func BenchmarkLoadRanks(b *testing.B) {
	for b.Loop() {
		if _, err := parseRanks(cl100kRanks); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadRanksLoaderModule(b *testing.B) {
	l := tiktoken_loader.NewOfflineLoader()
	for b.Loop() {
		if _, err := l.LoadTiktokenBpe("cl100k_base.tiktoken"); err != nil {
			b.Fatal(err)
		}
	}
}
