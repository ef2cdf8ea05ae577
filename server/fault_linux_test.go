//go:build linux

package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/tokenizer"
	"github.com/rwkvgo/rwkvgo/weights"
)

// TestWeightsFileTruncated: when the model's memory-mapped weights file is
// truncated while the server runs, requests fail with a server error naming
// the fault, the readiness probe reports the model unusable, and the
// process keeps serving (liveness, errors).
func TestWeightsFileTruncated(t *testing.T) {
	wf, err := weights.Synthesize(weights.SynthConfig{Version: weights.V7, Layers: 1, Embd: 64, Vocab: 256, HeadSize: 16, FFN: 128, Seed: 2})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "m.st")
	fh, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, weights.WriteSafetensors(fh, wf.Tensors, nil))
	require.NoError(t, fh.Close())
	m, err := engine.Load(path, engine.Options{Threads: 2})
	require.NoError(t, err)
	defer m.Close()
	srv, err := New(m, tokenizer.Bytes(), Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	request := func(method, route, body string) (int, string) {
		req, err := http.NewRequest(method, ts.URL+route, strings.NewReader(body))
		require.NoError(t, err)
		resp, err := ts.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	const body = `{"prompt":"Hello there","max_tokens":4,"temperature":0}`
	status, text := request(http.MethodPost, "/v1/completions", body)
	require.Equal(t, http.StatusOK, status, text)
	status, _ = request(http.MethodGet, "/health", "")
	require.Equal(t, http.StatusOK, status)

	require.NoError(t, os.Truncate(path, int64(os.Getpagesize())))
	for range 2 {
		status, text = request(http.MethodPost, "/v1/completions", body)
		require.Equal(t, http.StatusInternalServerError, status, text)
		require.Contains(t, text, "weights unreadable")
	}
	status, text = request(http.MethodGet, "/health", "")
	require.Equal(t, http.StatusServiceUnavailable, status, text)
	require.Contains(t, text, "model_unusable")
	status, _ = request(http.MethodGet, "/livez", "")
	require.Equal(t, http.StatusOK, status)
	require.ErrorIs(t, m.Err(), engine.ErrWeightsUnreadable)
}
