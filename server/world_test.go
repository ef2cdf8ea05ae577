package server

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/rwkvgo/rwkvgo/tokenizer"
	"github.com/rwkvgo/rwkvgo/weights"
)

// TestWorldTokenizerChat serves a small random model with the World
// vocabulary: the streamed chunks add up to the plain reply. A chunk that
// split a UTF-8 character would reach the client as U+FFFD and break the
// equality.
func TestWorldTokenizerChat(t *testing.T) {
	tok, err := tokenizer.Load(testdata.Path(t, "tokenizers/rwkv_vocab_v20230424.txt"))
	require.NoError(t, err)
	f, err := weights.Synthesize(weights.SynthConfig{Version: weights.V7, Layers: 2, Embd: 32, Vocab: 65536, HeadSize: 16, Seed: 5})
	require.NoError(t, err)
	wm, err := weights.Canonicalize(f, weights.Options{})
	require.NoError(t, err)
	m, err := engine.New(wm, engine.Options{Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	srv, err := New(m, tok, Config{ModelName: "world", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	defer func() { ts.Close(); srv.Close() }()
	client := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithHTTPClient(ts.Client()), option.WithAPIKey("x"), option.WithMaxRetries(0))

	p := openai.ChatCompletionNewParams{Model: "world", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("你好，世界！ Grüße")},
		MaxTokens: openai.Int(40), Temperature: openai.Float(1), Seed: openai.Int(3)}
	c, err := client.Chat.Completions.New(context.Background(), p)
	require.NoError(t, err)
	want := c.Choices[0].Message.Content
	require.Equal(t, int64(len(tok.Encode([]byte("User: 你好，世界！ Grüße\n\nAssistant:")))), c.Usage.PromptTokens)

	stream := client.Chat.Completions.NewStreaming(context.Background(), p)
	var got strings.Builder
	for stream.Next() {
		for _, ch := range stream.Current().Choices {
			got.WriteString(ch.Delta.Content)
		}
	}
	require.NoError(t, stream.Err())
	stream.Close()
	require.Equal(t, want, got.String())
	require.NotEmpty(t, want)
}
