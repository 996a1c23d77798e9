package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/kefuhq/kefu"
	"github.com/kefuhq/kefu/llm/llmtest"
)

// fakeLLMOptions are the flags of kefu fake-llm.
type fakeLLMOptions struct {
	addr   string
	tps    float64
	dims   int
	reply  string
	models []string
}

func fakeLLMCmd(g *globals) *cobra.Command {
	var o fakeLLMOptions
	cmd := &cobra.Command{
		Use:   "fake-llm [--addr 127.0.0.1:11435] [--tokens-per-s N] [--dims N]",
		Short: "Serve a fake OpenAI-compatible (and Ollama) model for demos and load runs, on loopback",
		Long: `fake-llm serves a stand-in language model: OpenAI's /v1/chat/completions (streamed or not),
/v1/embeddings and /v1/models, and Ollama's /api/chat and /api/embed. It answers every chat with
--reply, or else echoes the last user message, paced at --tokens-per-s, and embeds text as
deterministic vectors of --dims numbers. Point kefu at it with
  KEFU_LLM_PROVIDER=openai KEFU_LLM_BASE_URL=http://127.0.0.1:11435/v1 KEFU_LLM_MODEL=fake-model`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFakeLLM(cmd.Context(), o, func(url string) {
				fmt.Fprintf(g.stdout, "fake-llm: OpenAI-compatible API at %s/v1, Ollama API at %s\n", url, url)
			}, func(warning string) { fmt.Fprintln(g.stderr, "fake-llm:", warning) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:11435", "listen address (loopback unless you say otherwise)")
	f.Float64Var(&o.tps, "tokens-per-s", 0, "pace streamed answers at this many pieces a second (0: as fast as possible)")
	f.IntVar(&o.dims, "dims", 64, "size of the embedding vectors")
	f.StringVar(&o.reply, "reply", "", "answer every chat with this text (default: echo the last user message)")
	f.StringSliceVar(&o.models, "models", []string{"fake-model"}, "model names /v1/models lists")
	return cmd
}

// runFakeLLM serves the fake model until ctx ends. ready gets the base URL
// once it listens; warn gets a warning when the address is not loopback.
func runFakeLLM(ctx context.Context, o fakeLLMOptions, ready func(url string), warn func(string)) error {
	if o.dims < 1 || o.dims > 8192 {
		return kefu.Errorf(kefu.EInvalid, "--dims %d is outside 1..8192", o.dims)
	}
	if o.tps < 0 {
		return kefu.Errorf(kefu.EInvalid, "--tokens-per-s must not be negative")
	}
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return kefu.Errorf(kefu.EInvalid, "--addr %q is not host:port", o.addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		warn(fmt.Sprintf("listening on %s, reachable from other machines; the fake has no authentication", o.addr))
	}
	opts := []llmtest.Option{llmtest.WithDims(o.dims), llmtest.WithTokensPerSecond(o.tps), llmtest.WithModels(o.models...)}
	if o.reply != "" {
		reply := o.reply
		opts = append(opts, llmtest.WithDefault(func(llmtest.ChatRequest) llmtest.Reply { return llmtest.Reply{Text: reply} }))
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("fake-llm: %w", err)
	}
	srv := &http.Server{Handler: llmtest.New(opts...), ReadHeaderTimeout: 10 * time.Second,
		// Requests end with ctx, so that streams that never end do too.
		BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	ready("http://" + ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("fake-llm: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return srv.Close()
}
