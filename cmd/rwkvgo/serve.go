package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/scheduler"
	"github.com/rwkvgo/rwkvgo/server"
	"github.com/rwkvgo/rwkvgo/statecache"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

func init() {
	register(&command{name: "serve", summary: "serve the model over an OpenAI-compatible HTTP API", run: runServe})
}

// serveOptions are the parsed flags of `rwkvgo serve`.
type serveOptions struct {
	mf              modelFlags
	tokenizer       string
	modelName       string
	addr            string
	maxBatch        int
	maxQueue        int
	chunk           int
	apiKey          string
	cacheBytes      int64
	cacheDir        string
	stateDir        string
	maxPromptTokens int
	maxBodyBytes    int64
	drainDelay      time.Duration
	drainTimeout    time.Duration
	logLevel        string
	detector        sampler.DetectorConfig // default repetition detector of requests
}

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var o serveOptions
	o.mf.register(fs)
	fs.StringVar(&o.tokenizer, "tokenizer", "", "tokenizer: World vocab .txt or tokenizer.json (default: found next to the model; bytes for vocab-256 models)")
	fs.StringVar(&o.modelName, "model-name", "", "model id served and required in requests (default: the model file's base name)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.IntVar(&o.maxBatch, "max-batch", 8, "sequences decoded together")
	fs.IntVar(&o.mf.stateSlots, "state-slots", 0, "sequence states allocated on the backend once at load, so the state pool never grows or moves (0: it grows on demand); at least --max-batch")
	fs.IntVar(&o.maxQueue, "max-queue", 64, "requests that may wait for a slot; more are refused with 429")
	fs.IntVar(&o.chunk, "chunk", 256, "prefill chunk in tokens (also the spacing of cached prefix states)")
	fs.StringVar(&o.apiKey, "api-key", "", "require this key as a bearer token on /v1/ (default: $RWKVGO_API_KEY)")
	fs.Int64Var(&o.cacheBytes, "state-cache-bytes", 1<<30, "bytes of prefix states kept in RAM (0 turns the cache off)")
	fs.StringVar(&o.cacheDir, "state-cache-dir", "", "directory of the prefix cache's disk tier (default: none)")
	fs.StringVar(&o.stateDir, "state-dir", "", "directory of the initial state files requests may name with \"state\"")
	fs.IntVar(&o.maxPromptTokens, "max-prompt-tokens", 65536, "longest prompt accepted, in tokens")
	fs.Int64Var(&o.maxBodyBytes, "max-body-bytes", 4<<20, "largest request body accepted")
	fs.DurationVar(&o.drainDelay, "drain-delay", 0, "on SIGINT/SIGTERM, how long /health reports not-ready while new requests are still served, before the listener closes (set it to cover endpoint removal in a load balancer)")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 5*time.Minute, "on SIGINT/SIGTERM, how long running streams may take to finish after the listener closes")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.Float64Var(&o.detector.Threshold, "rep-threshold", 0, "repetition detector for requests without \"repetition_detector\": seq-rep-n threshold in (0,1) (0 = off)")
	fs.IntVar(&o.detector.N, "rep-n", 4, "repetition detector n-gram size")
	fs.IntVar(&o.detector.Window, "rep-window", 64, "repetition detector window in tokens")
	repAction := fs.String("rep-action", string(sampler.DetectReport), "repetition detector action: report, stop (finish_reason \"repetition\") or escalate")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o.detector.Action = sampler.DetectorAction(*repAction)
	if err := o.detector.Validate(); err != nil {
		return usageError{err}
	}
	if o.apiKey == "" {
		o.apiKey = os.Getenv("RWKVGO_API_KEY")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, o, stderr, nil)
}

// serve runs the server until ctx is done, then drains: /health turns
// not-ready, new requests are still served for --drain-delay, then the
// listener closes and running requests get --drain-timeout to finish.
// ready, when set, is called with the listening address.
func serve(ctx context.Context, o serveOptions, logOut io.Writer, ready func(addr string)) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	switch {
	case o.mf.model == "":
		return usagef("--model is required")
	case o.maxBatch < 1:
		return usagef("--max-batch must be >= 1")
	case o.mf.stateSlots != 0 && o.mf.stateSlots < o.maxBatch:
		return usagef("--state-slots must be 0 or at least --max-batch (%d)", o.maxBatch)
	case o.maxQueue < 1:
		return usagef("--max-queue must be >= 1")
	case o.chunk < 1 || o.chunk > 512:
		return usagef("--chunk must be in [1, 512]")
	case o.cacheBytes < 0:
		return usagef("--state-cache-bytes must be >= 0")
	case o.drainDelay < 0 || o.drainTimeout < 0:
		return usagef("--drain-delay and --drain-timeout must be >= 0")
	}
	if o.stateDir != "" {
		if st, err := os.Stat(o.stateDir); err != nil || !st.IsDir() {
			return usagef("--state-dir %s is not a directory", o.stateDir)
		}
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	var handler atomic.Pointer[http.Handler]
	loading := server.Loading()
	handler.Store(&loading)
	hs := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}
	shutdown := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), o.drainTimeout)
		defer cancel()
		err := hs.Shutdown(sctx)
		if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
		return err
	}

	t0 := time.Now()
	m, err := o.mf.load()
	if err != nil {
		shutdown()
		return err
	}
	defer m.Close()
	tok, err := tokenizer.ForModel(m.Config().Vocab, o.mf.model, o.tokenizer)
	if err != nil {
		shutdown()
		return err
	}
	var cache *statecache.Cache
	if o.cacheBytes > 0 {
		if cache, err = statecache.New(cacheConfig(m, o.cacheBytes, o.cacheDir)); err != nil {
			shutdown()
			return err
		}
		defer cache.Close() // before the model's Close (deferred earlier)
	}
	name := o.modelName
	if name == "" {
		name = filepath.Base(o.mf.model)
	}
	srv, err := server.New(m, tok, server.Config{
		ModelName:       name,
		APIKey:          o.apiKey,
		MaxBodyBytes:    o.maxBodyBytes,
		MaxPromptTokens: o.maxPromptTokens,
		StateDir:        o.stateDir,
		Detector:        o.detector,
		Logger:          log,
		Scheduler:       scheduler.Config{MaxBatch: o.maxBatch, MaxQueue: o.maxQueue, ChunkSize: o.chunk, Cache: cache},
	})
	if err != nil {
		shutdown()
		return err
	}
	h := srv.Handler()
	handler.Store(&h)
	log.Info("model loaded", "model", name, "config", m.Config().String(), "backend", m.Backend().Name(),
		"tokenizer", tok.Name(), "load_time", time.Since(t0).Round(time.Millisecond), "state_cache_bytes", o.cacheBytes,
		"state_slots", o.mf.stateSlots)

	select {
	case <-ctx.Done():
	case err := <-served:
		srv.Close()
		return fmt.Errorf("http server: %w", err)
	}
	srv.Drain()
	if o.drainDelay > 0 {
		log.Info("draining: not ready, still serving", "delay", o.drainDelay)
		select {
		case <-time.After(o.drainDelay):
		case err := <-served:
			srv.Close()
			return fmt.Errorf("http server: %w", err)
		}
	}
	log.Info("shutting down: draining running requests", "timeout", o.drainTimeout)
	err = shutdown()
	srv.Close()
	if err != nil {
		return fmt.Errorf("draining: %w", err)
	}
	log.Info("stopped")
	return nil
}

// maxDeviceCacheBytes caps the prefix cache's device tier.
const maxDeviceCacheBytes = 1 << 30

// cacheConfig splits --state-cache-bytes between the prefix cache's tiers.
// On a device backend (any but the CPU one) a quarter of it, at most
// maxDeviceCacheBytes, is the device tier, provided that holds one state,
// and the RAM tier keeps the rest. On the CPU backend the RAM tier is the
// backend's own memory and takes it all.
func cacheConfig(m *engine.Model, bytes int64, dir string) statecache.Config {
	cfg := statecache.Config{MaxBytes: bytes, Dir: dir}
	if m.Backend().Name() == "cpu" {
		return cfg
	}
	dev := min(bytes/4, maxDeviceCacheBytes)
	if dev < 4*int64(m.Config().StateSize()) {
		return cfg
	}
	cfg.Device, cfg.DeviceBytes, cfg.MaxBytes = m, dev, bytes-dev
	return cfg
}
