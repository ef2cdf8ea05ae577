package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rwkvgo/rwkvgo/sampler"
	"github.com/rwkvgo/rwkvgo/scheduler"
	"github.com/rwkvgo/rwkvgo/statecache"
)

// metrics are the server's Prometheus metrics (names start with rwkvgo_).
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	batchSize    prometheus.Histogram
	stepSeconds  prometheus.Histogram
	generated    prometheus.Counter
	promptTokens prometheus.Counter
	ttft         prometheus.Histogram
	itl          prometheus.Histogram
	detections   *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	latency := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rwkvgo_http_requests_total",
			Help: "HTTP requests by route and status code."}, []string{"route", "code"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rwkvgo_batch_size",
			Help: "Sequences per model step.", Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}}),
		stepSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rwkvgo_step_duration_seconds",
			Help: "Duration of a model step.", Buckets: latency}),
		generated: prometheus.NewCounter(prometheus.CounterOpts{Name: "rwkvgo_generated_tokens_total",
			Help: "Tokens generated."}),
		promptTokens: prometheus.NewCounter(prometheus.CounterOpts{Name: "rwkvgo_prompt_tokens_total",
			Help: "Prompt tokens received."}),
		ttft: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rwkvgo_time_to_first_token_seconds",
			Help: "Time from the request's arrival to its first generated token.", Buckets: latency}),
		itl: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rwkvgo_inter_token_latency_seconds",
			Help: "Time between consecutive tokens of a choice.", Buckets: latency}),
	}
	reg.MustRegister(m.requests, m.batchSize, m.stepSeconds, m.generated, m.promptTokens, m.ttft, m.itl)
	m.detections = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rwkvgo_repetition_detections_total",
		Help: "Firings of the live repetition detector, by the action taken (report, stop, escalate)."}, []string{"action"})
	for _, a := range []sampler.DetectorAction{sampler.DetectReport, sampler.DetectStop, sampler.DetectEscalate} {
		m.detections.WithLabelValues(string(a)) // exported at 0 before the first firing
	}
	reg.MustRegister(m.detections)
	return m
}

// watch registers gauges and counters read from the scheduler and cache.
func (m *metrics) watch(s *scheduler.Scheduler, c *statecache.Cache) {
	gauge := func(name, help string, f func() float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	m.reg.MustRegister(newSchedulerCollector(s))
	counter("rwkvgo_state_cache_hits_total", "Prefix state cache lookups that found a prefix.", func() float64 { return float64(c.Stats().Hits) })
	counter("rwkvgo_state_cache_disk_hits_total", "Prefix state cache hits served from the disk tier.", func() float64 { return float64(c.Stats().DiskHits) })
	counter("rwkvgo_state_cache_ram_hits_total", "Prefix state cache hits served from the RAM tier.", func() float64 { return float64(c.Stats().RAMHits) })
	counter("rwkvgo_state_cache_device_hits_total", "Prefix state cache hits served from the device tier (a device-to-device copy).",
		func() float64 { return float64(c.Stats().DeviceHits) })
	counter("rwkvgo_state_cache_device_evictions_total", "States moved from the device tier down to RAM.",
		func() float64 { return float64(c.Stats().DeviceEvictions) })
	gauge("rwkvgo_state_cache_device_bytes", "Bytes of states in the device tier.", func() float64 { return float64(c.Stats().DeviceBytes) })
	gauge("rwkvgo_state_cache_device_entries", "States in the device tier.", func() float64 { return float64(c.Stats().DeviceEntries) })
	counter("rwkvgo_state_cache_misses_total", "Prefix state cache lookups that found nothing.", func() float64 { return float64(c.Stats().Misses) })
	counter("rwkvgo_state_cache_evictions_total", "States evicted from the RAM tier.", func() float64 { return float64(c.Stats().Evictions) })
	gauge("rwkvgo_state_cache_bytes", "Bytes of states in the RAM tier.", func() float64 { return float64(c.Stats().Bytes) })
	gauge("rwkvgo_state_cache_entries", "States in the RAM tier.", func() float64 { return float64(c.Stats().Entries) })
	gauge("rwkvgo_state_cache_disk_bytes", "Bytes of states in the disk tier.", func() float64 { return float64(c.Stats().DiskBytes) })
}

// schedulerCollector exports the scheduler's gauges from one Stats snapshot
// per scrape, so that a scrape never pairs a running count with a usage ratio
// read at another instant (an Endpoint Picker reads them together).
type schedulerCollector struct {
	s                                       *scheduler.Scheduler
	slots                                   int
	queued, running, capacity, usage, steps *prometheus.Desc
}

func newSchedulerCollector(s *scheduler.Scheduler) *schedulerCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &schedulerCollector{
		s:        s,
		slots:    s.Config().MaxBatch,
		queued:   d("rwkvgo_queue_depth", "Requests waiting for a sequence slot (the model server protocol's TotalQueuedRequests)."),
		running:  d("rwkvgo_running_sequences", "Sequences running (the model server protocol's TotalRunningRequests)."),
		capacity: d("rwkvgo_state_pool_capacity", "Sequence state slots in the state pool (--max-batch)."),
		usage: d("rwkvgo_state_pool_usage_ratio", "Fraction of the state pool's slots in use, 0 to 1 "+
			"(running sequences / capacity; the model server protocol's KVCacheUtilization)."),
		steps: d("rwkvgo_steps_total", "Model steps run."),
	}
}

// Describe implements prometheus.Collector.
func (c *schedulerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.queued, c.running, c.capacity, c.usage, c.steps} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *schedulerCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(st.Queued))
	ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(st.Running))
	ch <- prometheus.MustNewConstMetric(c.capacity, prometheus.GaugeValue, float64(c.slots))
	ch <- prometheus.MustNewConstMetric(c.usage, prometheus.GaugeValue, usageRatio(st.Running, c.slots))
	ch <- prometheus.MustNewConstMetric(c.steps, prometheus.CounterValue, float64(st.Steps))
}

// usageRatio is running/slots clamped to [0, 1] (0 without slots).
func usageRatio(running, slots int) float64 {
	if slots <= 0 || running <= 0 {
		return 0
	}
	return min(float64(running)/float64(slots), 1)
}

func (m *metrics) step(i scheduler.StepInfo) {
	m.batchSize.Observe(float64(i.Sequences))
	m.stepSeconds.Observe(i.Duration.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// statusWriter records the status code; it keeps Flush reachable through
// http.ResponseController (Unwrap).
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts requests by route and status and logs them.
func (s *Server) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		route := r.URL.Path
		switch route {
		case "/health", "/livez", "/metrics", "/v1/models", "/v1/completions", "/v1/chat/completions":
		default:
			route = "other"
		}
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		if route != "/health" && route != "/livez" && route != "/metrics" {
			s.cfg.Logger.Info("http", "method", r.Method, "path", r.URL.Path, "code", code, "duration", time.Since(start).Round(time.Microsecond))
		}
	})
}
