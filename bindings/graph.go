package bindings

import "unsafe"

// Graph is a captured sequence of operations (a CUDA graph) replayed with
// one launch. The host arrays the captured calls took are its inputs, one
// per array in the order they were passed: the step's batch of each
// BeginStep (offsets then slots), the token ids of each Embed, the row
// indices of each GatherRows. SetInput replaces one before the next Launch.
// A step used in the graph must be begun inside the capture.
type Graph struct {
	b *Backend
	h ptr
}

// BeginGraph starts capturing the operations queued on the backend;
// stagingBytes bounds the total size of the captured host arrays (0: 64
// KiB). Until EndGraph, only operations may be issued (no Upload, New,
// Read, Write).
func (b *Backend) BeginGraph(stagingBytes int) error {
	if !b.live() {
		return b.Err()
	}
	b.check("rwkvcu_graph_begin", b.api.graphBegin(b.ctx, uintptr(stagingBytes)))
	return b.Err()
}

// EndGraph ends the capture and instantiates the graph. An error recorded
// during the capture is returned (and the capture discarded).
func (b *Backend) EndGraph() (*Graph, error) {
	pending := b.Err()
	var h ptr
	if b.ctx != nil && !b.check("rwkvcu_graph_end", b.api.graphEnd(b.ctx, &h)) {
		if pending == nil {
			pending = b.Err()
		}
		b.err = nil
	}
	if pending != nil {
		if h != nil {
			b.api.graphDestroy(h)
		}
		return nil, pending
	}
	return &Graph{b: b, h: h}, nil
}

// Inputs returns the number of inputs of the graph.
func (g *Graph) Inputs() int {
	var n int32
	if g.b.check("rwkvcu_graph_input_count", g.b.api.graphInputCount(g.h, &n)) {
		return int(n)
	}
	return 0
}

// SetInput replaces the contents of input i (same length as captured).
func (g *Graph) SetInput(i int, v []int32) error {
	if len(v) == 0 {
		g.b.failf("SetInput: empty input")
		return g.b.Err()
	}
	g.b.check("rwkvcu_graph_set_input", g.b.api.graphSetInput(g.b.ctx, g.h, int32(i), unsafe.Pointer(&v[0]), uintptr(4*len(v))))
	return g.b.Err()
}

// Launch replays the graph (asynchronously; errors surface through Err).
func (g *Graph) Launch() {
	if g.b.live() {
		g.b.check("rwkvcu_graph_launch", g.b.api.graphLaunch(g.b.ctx, g.h))
	}
}

// Close frees the graph.
func (g *Graph) Close() {
	if g.h != nil {
		g.b.api.graphDestroy(g.h)
		g.h = nil
	}
}
