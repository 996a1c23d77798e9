package llmtest

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestStreamedChatIsServerSentEvents(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.Script(Reply{Text: "Hello 世界"})
	resp := post(t, s.URL+"/chat/completions", `{"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]}`)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	var content strings.Builder
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if sc.Text() == "" {
			continue
		}
		lines = append(lines, sc.Text())
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			t.Fatalf("line %q is not a data line", sc.Text())
		}
		if data == "[DONE]" {
			continue
		}
		var chunk struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			t.Fatalf("chunk %q: %v", data, err)
		}
		content.WriteString(chunk.Choices[0].Delta.Content)
	}
	if content.String() != "Hello 世界" || lines[len(lines)-1] != "data: [DONE]" {
		t.Fatalf("streamed %q in %q", content.String(), lines)
	}
}

func TestChatEchoesAndRecords(t *testing.T) {
	s := NewServer()
	defer s.Close()
	resp := post(t, s.URL+"/chat/completions", `{"model": "m", "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": [{"type": "text", "text": "echo me"}]}]}`)
	var out struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if len(out.Choices) != 1 || out.Choices[0].Message.Content != "echo me" {
		t.Fatalf("reply %+v", out)
	}
	reqs := s.ChatRequests()
	if len(reqs) != 1 || reqs[0].Model != "m" || reqs[0].LastUser() != "echo me" || reqs[0].Messages[0].Content != "sys" {
		t.Fatalf("recorded %+v", reqs)
	}
}

func TestEmbeddingsAreDeterministic(t *testing.T) {
	s := NewServer(WithDims(12))
	defer s.Close()
	embed := func() [][]float32 {
		resp := post(t, s.URL+"/embeddings", `{"model": "e", "input": ["a", "b", "a"]}`)
		var out struct {
			Data []struct{ Embedding []float32 } `json:"data"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		var vecs [][]float32
		for _, d := range out.Data {
			vecs = append(vecs, d.Embedding)
		}
		return vecs
	}
	v1, v2 := embed(), embed()
	if len(v1) != 3 || len(v1[0]) != 12 || !slices.Equal(v1[0], v1[2]) || slices.Equal(v1[0], v1[1]) || !slices.Equal(v1[1], v2[1]) {
		t.Fatalf("vectors %v then %v", v1, v2)
	}
}

func TestModelsAndFaults(t *testing.T) {
	s := NewServer(WithModels("a", "b"))
	defer s.Close()
	resp, err := http.Get(s.URL + "/models")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"id":"a"`) || !strings.Contains(string(body), `"id":"b"`) {
		t.Fatalf("models %s", body)
	}
	s.Script(Reply{Fault: RateLimit, RetryAfter: "7"}, Reply{Fault: ServerError})
	if r := post(t, s.URL+"/chat/completions", `{"model": "m"}`); r.StatusCode != 429 || r.Header.Get("Retry-After") != "7" {
		t.Fatalf("status %d Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if r := post(t, s.URL+"/chat/completions", `{"model": "m"}`); r.StatusCode != 500 {
		t.Fatalf("status %d", r.StatusCode)
	}
}

func TestPiecesJoinBack(t *testing.T) {
	for _, text := range []string{"", "one", "Hello there,  world. [1]", "退货期限是30天。[1]", " leading and trailing "} {
		p := Pieces(text)
		if strings.Join(p, "") != text {
			t.Errorf("Pieces(%q) = %q", text, p)
		}
	}
	if got := Pieces("退货 ok"); len(got) != 4 {
		t.Errorf("Pieces = %q", got)
	}
}
