package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/types"
	fwkdl "sigs.k8s.io/gateway-api-inference-extension/pkg/epp/framework/interface/datalayer"
	extractormetrics "sigs.k8s.io/gateway-api-inference-extension/pkg/epp/framework/plugins/datalayer/extractor/metrics"

	"github.com/rwkvgo/rwkvgo/engine"
	"github.com/rwkvgo/rwkvgo/internal/testdata"
	"github.com/rwkvgo/rwkvgo/scheduler"
	"github.com/rwkvgo/rwkvgo/server"
	"github.com/rwkvgo/rwkvgo/tokenizer"
)

const tinyModel = "rwkv.cpp/tests/tiny-rwkv-7v0-834K-FP32.bin"

// eppView is what the Endpoint Picker's core-metrics-extractor, configured
// by deploy/kubernetes/inferencepool.yaml, reads from one scrape of /metrics.
type eppView struct {
	waiting, running int
	kvUsage          float64
}

// TestEndpointPickerReadsServerMetrics runs the extension's own metrics
// extractor, built from the EPP configuration in the manifests, over a live
// server's /metrics while streams fill its slots and then its queue: the
// queue size it reads rises only once every slot is taken, and the KV-cache
// utilisation it reads is the fraction of the state pool's slots in use.
func TestEndpointPickerReadsServerMetrics(t *testing.T) {
	_, params := eppConfig(t)
	plugin, err := extractormetrics.CoreMetricsExtractorFactory("core-metrics-extractor", params, nil)
	if err != nil {
		t.Fatalf("the EPP refuses the extractor configuration: %v", err)
	}
	ext := plugin.(*extractormetrics.Extractor)

	m, err := engine.Load(testdata.Path(t, tinyModel), engine.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const slots, queued = 2, 3
	srv, err := server.New(m, tokenizer.Bytes(), server.Config{ModelName: "rwkv",
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Scheduler: scheduler.Config{MaxBatch: slots, MaxQueue: 8}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer srv.Close()
	defer ts.Close()

	rwkvPod := fwkdl.NewEndpoint(&fwkdl.EndpointMetadata{NamespacedName: types.NamespacedName{Namespace: "default", Name: "rwkvgo-0"},
		Labels: map[string]string{extractormetrics.DefaultEngineTypeLabelKey: "rwkvgo"}}, fwkdl.NewMetrics())
	read := func(ep fwkdl.Endpoint) (eppView, error) {
		resp, err := ts.Client().Get(ts.URL + "/metrics")
		if err != nil {
			return eppView{}, err
		}
		defer resp.Body.Close()
		parser := expfmt.NewTextParser(model.LegacyValidation)
		fams, err := parser.TextToMetricFamilies(resp.Body)
		if err != nil {
			return eppView{}, err
		}
		for _, n := range []string{"rwkvgo_queue_depth", "rwkvgo_running_sequences", "rwkvgo_state_pool_usage_ratio"} {
			if f := fams[n]; f == nil || f.GetType() != dto.MetricType_GAUGE {
				t.Fatalf("%s is not a gauge: %v", n, f)
			}
		}
		if err := ext.Extract(context.Background(), fams, ep); err != nil {
			return eppView{}, err
		}
		mt := ep.GetMetrics()
		return eppView{mt.WaitingQueueSize, mt.RunningRequestsSize, mt.KVCacheUsagePercent}, nil
	}
	wait := func(what string, ok func(eppView) bool) eppView {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			v, err := read(rwkvPod)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if ok(v) {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the EPP never saw it; last %+v", what, v)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}

	if v, err := read(rwkvPod); err != nil || v != (eppView{0, 0, 0}) {
		t.Fatalf("idle: %+v %v", v, err)
	}
	// A pod labelled as another engine is read with that engine's (vLLM's)
	// names, which rwkvgo does not publish: the label matters.
	vllmPod := fwkdl.NewEndpoint(&fwkdl.EndpointMetadata{NamespacedName: types.NamespacedName{Namespace: "default", Name: "other"},
		Labels: map[string]string{extractormetrics.DefaultEngineTypeLabelKey: "vllm"}}, fwkdl.NewMetrics())
	if _, err := read(vllmPod); err == nil {
		t.Error("the vllm mapping found its metrics on rwkvgo")
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	hold := func(i int) {
		body, _ := json.Marshal(map[string]any{"model": "rwkv", "prompt": "the rain in spain", "max_tokens": 16000,
			"temperature": 1, "seed": i, "stream": true})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/completions", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := ts.Client().Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	hold(0)
	// The gauges are separate series, published one after the other: wait
	// for the whole view rather than the first gauge to move.
	wait(fmt.Sprintf("one stream of %d slots", slots), func(v eppView) bool { return v == eppView{0, 1, 0.5} })
	for i := 1; i < slots+queued; i++ {
		hold(i)
	}
	v := wait("slots and queue filled", func(v eppView) bool { return v.running == slots && v.waiting == queued })
	if v.kvUsage != 1 {
		t.Errorf("all slots taken: the EPP sees usage %v", v.kvUsage)
	}
	cancel()
	wg.Wait()
	wait("after cancelling", func(v eppView) bool { return v == eppView{0, 0, 0} })
}
