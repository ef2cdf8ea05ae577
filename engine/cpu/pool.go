package cpu

import (
	"sync"
	"sync/atomic"
)

// rangeTask is work split into chunks: do processes chunk i of n.
type rangeTask interface {
	do(chunk int)
}

// pool runs chunks of a rangeTask on a fixed set of goroutines plus the caller.
// It allocates nothing per call.
type pool struct {
	workers int
	start   []chan struct{}
	wg      sync.WaitGroup
	task    rangeTask
	chunks  int
	next    atomic.Int64
	closed  bool
}

func newPool(threads int) *pool {
	p := &pool{workers: threads - 1}
	p.start = make([]chan struct{}, p.workers)
	for i := range p.start {
		ch := make(chan struct{})
		p.start[i] = ch
		go func() {
			for range ch {
				p.drain()
				p.wg.Done()
			}
		}()
	}
	return p
}

// threads is the number of goroutines that run chunks (workers plus the caller).
func (p *pool) threads() int { return p.workers + 1 }

func (p *pool) drain() {
	for {
		c := int(p.next.Add(1) - 1)
		if c >= p.chunks {
			return
		}
		p.task.do(c)
	}
}

// inlineWork is the amount of work (multiply-adds, roughly) below which a
// task runs on the calling goroutine alone: waking a parked worker costs tens
// of microseconds on a loaded machine, more than such a task takes.
const inlineWork = 1 << 18

// runSized is run for a task of about work multiply-adds in all.
func (p *pool) runSized(t rangeTask, chunks, work int) {
	if work < inlineWork {
		for c := 0; c < chunks; c++ {
			t.do(c)
		}
		return
	}
	p.run(t, chunks)
}

// run executes t.do(0..chunks-1) across the pool and returns when all are done.
func (p *pool) run(t rangeTask, chunks int) {
	if chunks <= 0 {
		return
	}
	if chunks == 1 || p.workers == 0 {
		for c := 0; c < chunks; c++ {
			t.do(c)
		}
		return
	}
	p.task, p.chunks = t, chunks
	p.next.Store(0)
	use := p.workers
	if use > chunks-1 {
		use = chunks - 1
	}
	p.wg.Add(use)
	for i := 0; i < use; i++ {
		p.start[i] <- struct{}{}
	}
	p.drain()
	p.wg.Wait()
	p.task = nil
}

func (p *pool) close() {
	if p.closed {
		return
	}
	p.closed = true
	for _, ch := range p.start {
		close(ch)
	}
}
