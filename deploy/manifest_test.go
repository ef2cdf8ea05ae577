package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	infv1 "sigs.k8s.io/gateway-api-inference-extension/api/v1"
	eppconfig "sigs.k8s.io/gateway-api-inference-extension/apix/config/v1alpha1"
	sourcemetrics "sigs.k8s.io/gateway-api-inference-extension/pkg/epp/framework/plugins/datalayer/source/metrics"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
)

// object is a decoded manifest document.
type object struct {
	file string
	obj  any
}

// newObject returns an empty object of the upstream Go type for apiVersion
// and kind; an unknown pair is an error.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1 PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, nil
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "rbac.authorization.k8s.io/v1 Role":
		return &rbacv1.Role{}, nil
	case "rbac.authorization.k8s.io/v1 RoleBinding":
		return &rbacv1.RoleBinding{}, nil
	case "inference.networking.k8s.io/v1 InferencePool":
		return &infv1.InferencePool{}, nil
	case "gateway.networking.k8s.io/v1 Gateway":
		return &gwv1.Gateway{}, nil
	case "gateway.networking.k8s.io/v1 HTTPRoute":
		return &gwv1.HTTPRoute{}, nil
	case "inference.networking.x-k8s.io/v1alpha1 EndpointPickerConfig":
		return &eppconfig.EndpointPickerConfig{}, nil
	}
	return nil, fmt.Errorf("unexpected apiVersion %q kind %q", apiVersion, kind)
}

// decodeStrict converts YAML to JSON (refusing duplicate keys) and decodes
// it into the type its apiVersion and kind name, refusing unknown fields.
func decodeStrict(doc []byte) (any, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return nil, err
	}
	obj, err := newObject(tm.APIVersion, tm.Kind)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return nil, fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	return obj, nil
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// loadManifests decodes every document of deploy/kubernetes/*.yaml.
func loadManifests(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var out []object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSep.Split(string(b), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			obj, err := decodeStrict([]byte(doc))
			if err != nil {
				t.Errorf("%s document %d: %v", f, i, err)
				continue
			}
			out = append(out, object{filepath.Base(f), obj})
		}
	}
	return out
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// find returns the objects of type T in file (any file when file is "").
func find[T any](objs []object, file string) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.obj.(T); ok && (file == "" || o.file == file) {
			out = append(out, v)
		}
	}
	return out
}

func one[T any](t *testing.T, objs []object, file, name string, getName func(T) string) T {
	t.Helper()
	for _, v := range find[T](objs, file) {
		if getName(v) == name {
			return v
		}
	}
	var zero T
	t.Fatalf("%s: no %T named %q", file, zero, name)
	return zero
}

func deploymentName(d *appsv1.Deployment) string { return d.Name }
func serviceName(s *corev1.Service) string       { return s.Name }

// TestManifestsDecode: every document decodes strictly into its upstream
// type, and a typo (an unknown field, a duplicate key, a wrong kind) fails.
func TestManifestsDecode(t *testing.T) {
	objs := loadManifests(t)
	if len(objs) < 10 {
		t.Fatalf("only %d objects decoded", len(objs))
	}
	count := map[string]int{}
	for _, o := range objs {
		count[fmt.Sprintf("%T", o.obj)]++
	}
	for _, want := range []string{"*v1.Deployment", "*v1.Service", "*v1.InferencePool", "*v1.ConfigMap", "*v1.HTTPRoute", "*v1.Gateway"} {
		if count[want] == 0 {
			t.Errorf("no %s among the manifests (%v)", want, count)
		}
	}
	// The decoder is strict: these must fail.
	for _, bad := range []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replica: 2}\n",
		"apiVersion: inference.networking.k8s.io/v1\nkind: InferencePool\nspec: {targetPort: [{number: 8000}]}\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: a, name: b}\n",
		"apiVersion: inference.networking.x-k8s.io/v1alpha2\nkind: InferencePool\n",
		"apiVersion: v1\nkind: Service\nspec: {ports: [{port: eighty}]}\n",
	} {
		if _, err := decodeStrict([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// serveArgs parses a `serve` argument list into flag -> value.
func serveArgs(t *testing.T, args []string) map[string]string {
	t.Helper()
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("args %v do not start with serve", args)
	}
	m := map[string]string{}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			t.Fatalf("unexpected argument %q in %v", a, args)
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok {
			if i+1 >= len(args) {
				t.Fatalf("flag %s has no value", a)
			}
			i++
			v = args[i]
		}
		m[k] = v
	}
	return m
}

func parseDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestModelServerDeployment: the GPU Deployment asks for a GPU, runs
// non-root, probes readiness on /health and liveness on /livez, gives the
// drain its time, and carries the engine-type label the EPP keys on.
func TestModelServerDeployment(t *testing.T) {
	objs := loadManifests(t)
	d := one(t, objs, "model-server.yaml", "rwkvgo", deploymentName)
	pod := d.Spec.Template
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
		t.Fatalf("the Deployment's selector does not match its pods: %v", err)
	}
	if got := pod.Labels["inference.networking.k8s.io/engine-type"]; got != "rwkvgo" {
		t.Errorf("engine-type label %q", got)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	gpu := corev1.ResourceName("nvidia.com/gpu")
	if q, ok := c.Resources.Limits[gpu]; !ok || q.Cmp(resource.MustParse("1")) != 0 {
		t.Errorf("GPU limit %v", c.Resources.Limits)
	}
	if q, ok := c.Resources.Requests[gpu]; !ok || q.Cmp(resource.MustParse("1")) != 0 {
		t.Errorf("GPU request %v", c.Resources.Requests)
	}
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("the pod does not run as non-root: %+v", psc)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/health" {
		t.Errorf("readiness probe %+v", c.ReadinessProbe)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/livez" {
		t.Errorf("liveness probe %+v", c.LivenessProbe)
	}
	args := serveArgs(t, c.Args)
	if args["backend"] != "cuda" {
		t.Errorf("--backend %q", args["backend"])
	}
	// The port served is the container port named by the probes.
	_, port, _ := strings.Cut(args["addr"], ":")
	if len(c.Ports) != 1 || fmt.Sprint(c.Ports[0].ContainerPort) != port || c.Ports[0].Name != c.ReadinessProbe.HTTPGet.Port.StrVal {
		t.Errorf("--addr %s, ports %+v, probe port %v", args["addr"], c.Ports, c.ReadinessProbe.HTTPGet.Port)
	}
	// The model is read from the mounted volume.
	mounted := false
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(args["model"], m.MountPath+"/") && m.ReadOnly {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("--model %s is not on a read-only volume mount %+v", args["model"], c.VolumeMounts)
	}
	// The readiness probe notices the drain well within --drain-delay, and
	// the grace period covers the delay and the drain timeout.
	delay, timeout := parseDuration(t, args["drain-delay"]), parseDuration(t, args["drain-timeout"])
	p := c.ReadinessProbe
	notice := time.Duration(p.PeriodSeconds*p.FailureThreshold) * time.Second
	if delay < 2*notice {
		t.Errorf("--drain-delay %v is short of twice the readiness probe's reaction time %v", delay, notice)
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= delay+timeout {
		t.Errorf("terminationGracePeriodSeconds %v does not cover --drain-delay %v + --drain-timeout %v", g, delay, timeout)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("a rolling update may take replicas away before new ones are ready: %+v", d.Spec.Strategy)
	}
	checkServeFlags(t, c.Args)
}

// TestInferencePoolWiring: the InferencePool selects the model servers on
// their port and names the EPP's Service and gRPC port; the EPP mounts its
// configuration and may read what it watches; the HTTPRoute and the plain
// Service reach the same pods.
func TestInferencePoolWiring(t *testing.T) {
	objs := loadManifests(t)
	d := one(t, objs, "model-server.yaml", "rwkvgo", deploymentName)
	podLabels := labels.Set(d.Spec.Template.Labels)
	port := d.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort

	pools := find[*infv1.InferencePool](objs, "inferencepool.yaml")
	if len(pools) != 1 {
		t.Fatalf("%d InferencePools", len(pools))
	}
	pool := pools[0]
	if pool.APIVersion != "inference.networking.k8s.io/v1" {
		t.Errorf("InferencePool apiVersion %s", pool.APIVersion)
	}
	poolSel := labels.SelectorFromSet(labels.Set(toStrings(pool.Spec.Selector.MatchLabels)))
	if !poolSel.Matches(podLabels) {
		t.Errorf("the InferencePool's selector %v does not match the model server pods %v", poolSel, podLabels)
	}
	if len(pool.Spec.TargetPorts) != 1 || int32(pool.Spec.TargetPorts[0].Number) != port {
		t.Errorf("targetPorts %+v, model server port %d", pool.Spec.TargetPorts, port)
	}
	ref := pool.Spec.EndpointPickerRef
	eppSvc := one(t, objs, "inferencepool.yaml", string(ref.Name), serviceName)
	if ref.Port == nil || !slices.ContainsFunc(eppSvc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == int32(ref.Port.Number) }) {
		t.Errorf("endpointPickerRef port %+v is not a port of Service %s", ref.Port, eppSvc.Name)
	}
	epp := one(t, objs, "inferencepool.yaml", "rwkvgo-epp", deploymentName)
	if !labels.SelectorFromSet(eppSvc.Spec.Selector).Matches(labels.Set(epp.Spec.Template.Labels)) {
		t.Errorf("Service %s does not select the EPP's pods", eppSvc.Name)
	}
	ec := epp.Spec.Template.Spec.Containers[0]
	if !slices.ContainsFunc(ec.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == int32(ref.Port.Number) }) {
		t.Errorf("the EPP container does not listen on %d", ref.Port.Number)
	}
	if !slices.Contains(ec.Args, "--pool-name="+pool.Name) {
		t.Errorf("the EPP's --pool-name is not %s: %v", pool.Name, ec.Args)
	}
	// The config file it reads is the ConfigMap's key, mounted.
	var cfgPath string
	for _, a := range ec.Args {
		if v, ok := strings.CutPrefix(a, "--config-file="); ok {
			cfgPath = v
		}
	}
	cm := eppConfigMap(t, objs)
	found := false
	for _, m := range ec.VolumeMounts {
		for _, v := range epp.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Name {
				if _, ok := cm.Data[strings.TrimPrefix(cfgPath, m.MountPath+"/")]; ok && strings.HasPrefix(cfgPath, m.MountPath+"/") {
					found = true
				}
			}
		}
	}
	if !found {
		t.Errorf("--config-file=%s is not a key of ConfigMap %s mounted in the EPP", cfgPath, cm.Name)
	}
	// RBAC: the EPP's service account may watch pods and InferencePools.
	role := find[*rbacv1.Role](objs, "inferencepool.yaml")
	binding := find[*rbacv1.RoleBinding](objs, "inferencepool.yaml")
	if len(role) != 1 || len(binding) != 1 || binding[0].RoleRef.Name != role[0].Name ||
		binding[0].Subjects[0].Name != epp.Spec.Template.Spec.ServiceAccountName {
		t.Fatalf("the EPP's Role and RoleBinding do not fit its service account")
	}
	for _, need := range [][2]string{{"", "pods"}, {"inference.networking.k8s.io", "inferencepools"}} {
		ok := slices.ContainsFunc(role[0].Rules, func(r rbacv1.PolicyRule) bool {
			return slices.Contains(r.APIGroups, need[0]) && slices.Contains(r.Resources, need[1]) && slices.Contains(r.Verbs, "watch")
		})
		if !ok {
			t.Errorf("the EPP may not watch %v", need)
		}
	}
	// The HTTPRoute sends to the pool, through the Gateway.
	routes := find[*gwv1.HTTPRoute](objs, "gateway.yaml")
	gws := find[*gwv1.Gateway](objs, "gateway.yaml")
	if len(routes) != 1 || len(gws) != 1 {
		t.Fatalf("%d HTTPRoutes, %d Gateways", len(routes), len(gws))
	}
	br := routes[0].Spec.Rules[0].BackendRefs[0]
	if br.Group == nil || string(*br.Group) != "inference.networking.k8s.io" || br.Kind == nil || string(*br.Kind) != "InferencePool" || string(br.Name) != pool.Name {
		t.Errorf("the HTTPRoute's backend %+v is not InferencePool %s", br.BackendObjectReference, pool.Name)
	}
	if string(routes[0].Spec.ParentRefs[0].Name) != gws[0].Name {
		t.Errorf("the HTTPRoute's parent is not Gateway %s", gws[0].Name)
	}
	// The plain variant selects the same pods on the same port.
	svc := one(t, objs, "service.yaml", "rwkvgo", serviceName)
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		t.Errorf("the plain Service does not select the model servers")
	}
	if svc.Spec.Ports[0].TargetPort.StrVal != d.Spec.Template.Spec.Containers[0].Ports[0].Name {
		t.Errorf("the plain Service targets port %v", svc.Spec.Ports[0].TargetPort)
	}
}

func toStrings[K, V ~string](m map[K]V) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[string(k)] = string(v)
	}
	return out
}

func eppConfigMap(t *testing.T, objs []object) *corev1.ConfigMap {
	t.Helper()
	for _, cm := range find[*corev1.ConfigMap](objs, "inferencepool.yaml") {
		if cm.Name == "rwkvgo-epp" {
			return cm
		}
	}
	t.Fatal("no ConfigMap rwkvgo-epp")
	return nil
}

// engineConfig mirrors an entry of the core-metrics-extractor's
// engineConfigs (the extension's type is unexported).
type engineConfig struct {
	Name                string `json:"name"`
	QueuedRequestsSpec  string `json:"queuedRequestsSpec"`
	RunningRequestsSpec string `json:"runningRequestsSpec"`
	KVUsageSpec         string `json:"kvUsageSpec"`
	LoRASpec            string `json:"loraSpec"`
	CacheInfoSpec       string `json:"cacheInfoSpec"`
}

type extractorParams struct {
	EngineLabelKey string         `json:"engineLabelKey"`
	DefaultEngine  string         `json:"defaultEngine"`
	EngineConfigs  []engineConfig `json:"engineConfigs"`
}

// eppConfig decodes the EndpointPickerConfig in the EPP's ConfigMap and
// returns it with the core-metrics-extractor's raw parameters.
func eppConfig(t *testing.T) (*eppconfig.EndpointPickerConfig, json.RawMessage) {
	t.Helper()
	cm := eppConfigMap(t, loadManifests(t))
	if len(cm.Data) != 1 {
		t.Fatalf("ConfigMap %s has %d keys", cm.Name, len(cm.Data))
	}
	var text string
	for _, v := range cm.Data {
		text = v
	}
	obj, err := decodeStrict([]byte(text))
	if err != nil {
		t.Fatalf("EndpointPickerConfig: %v", err)
	}
	cfg, ok := obj.(*eppconfig.EndpointPickerConfig)
	if !ok {
		t.Fatalf("the ConfigMap holds a %T", obj)
	}
	var params json.RawMessage
	for _, p := range cfg.Plugins {
		if p.Type == "core-metrics-extractor" {
			params = p.Parameters
		}
	}
	if params == nil {
		t.Fatal("no core-metrics-extractor plugin")
	}
	return cfg, params
}

// TestEndpointPickerConfig: the EPP's configuration uses rwkvgo's metric
// names, keyed by the pods' engine-type label, and every plugin it schedules
// with is declared.
func TestEndpointPickerConfig(t *testing.T) {
	cfg, raw := eppConfig(t)
	var p extractorParams
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("core-metrics-extractor parameters: %v", err)
	}
	if p.DefaultEngine != "rwkvgo" || p.EngineLabelKey != "inference.networking.k8s.io/engine-type" || len(p.EngineConfigs) != 1 {
		t.Fatalf("extractor parameters %+v", p)
	}
	want := engineConfig{Name: "rwkvgo", QueuedRequestsSpec: "rwkvgo_queue_depth", RunningRequestsSpec: "rwkvgo_running_sequences",
		KVUsageSpec: "rwkvgo_state_pool_usage_ratio"}
	if p.EngineConfigs[0] != want {
		t.Errorf("engine config %+v, want %+v", p.EngineConfigs[0], want)
	}
	declared := map[string]bool{}
	for _, pl := range cfg.Plugins {
		name := pl.Name
		if name == "" {
			name = pl.Type
		}
		declared[name] = true
	}
	if len(cfg.SchedulingProfiles) == 0 {
		t.Fatal("no scheduling profile")
	}
	for _, prof := range cfg.SchedulingProfiles {
		for _, ref := range prof.Plugins {
			if !declared[ref.PluginRef] {
				t.Errorf("profile %s uses undeclared plugin %s", prof.Name, ref.PluginRef)
			}
		}
	}
	for _, need := range []string{"queue-scorer", "kv-cache-utilization-scorer", "prefix-cache-scorer", "metrics-data-source"} {
		if !declared[need] {
			t.Errorf("plugin %s is not configured", need)
		}
	}
	// The EPP decodes plugin parameters leniently (a misspelt key is
	// ignored), so check them strictly against the fields it reads.
	for _, pl := range cfg.Plugins {
		var into any
		switch pl.Type {
		case "prefix-cache-scorer":
			into = &struct {
				AutoTune               bool `json:"autoTune"`
				BlockSizeTokens        int  `json:"blockSizeTokens"`
				MaxPrefixBlocksToMatch int  `json:"maxPrefixBlocksToMatch"`
				LRUCapacityPerServer   int  `json:"lruCapacityPerServer"`
			}{}
		case "metrics-data-source":
			into = &struct {
				Scheme             string `json:"scheme"`
				Path               string `json:"path"`
				InsecureSkipVerify bool   `json:"insecureSkipVerify"`
			}{}
			if _, err := sourcemetrics.MetricsDataSourceFactory(pl.Type, pl.Parameters, nil); err != nil {
				t.Errorf("the EPP refuses the metrics-data-source parameters: %v", err)
			}
		default:
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(pl.Parameters))
		dec.DisallowUnknownFields()
		if err := dec.Decode(into); err != nil {
			t.Errorf("%s parameters: %v", pl.Type, err)
		}
	}
}
