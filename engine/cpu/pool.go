package cpu

import (
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/rwkvgo/rwkvgo/engine/backend"
)

// rangeTask is work split into chunks: do processes chunk i of n.
type rangeTask interface {
	do(chunk int)
}

// pool runs chunks of a rangeTask on a fixed set of goroutines plus the caller.
// It allocates nothing per call.
//
// Chunks may read weights in place from a memory-mapped file, which faults
// (SIGBUS) when the file shrinks under the mapping. Every goroutine running
// chunks has runtime/debug.SetPanicOnFault enabled while it does and
// recovers such a fault: the goroutine stops taking chunks, the fault is
// recorded (takeFault) and the run still returns only when every started
// goroutine is done. Panics other than memory faults are not recovered.
type pool struct {
	workers int
	start   []chan struct{}
	wg      sync.WaitGroup
	task    rangeTask
	chunks  int
	next    atomic.Int64
	closed  bool
	faultMu sync.Mutex
	fault   error // the first memory fault recovered since takeFault
}

func newPool(threads int) *pool {
	p := &pool{workers: threads - 1}
	p.start = make([]chan struct{}, p.workers)
	for i := range p.start {
		ch := make(chan struct{})
		p.start[i] = ch
		go func() {
			// The worker only ever runs chunks: faults panic for good.
			debug.SetPanicOnFault(true)
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

// drain runs chunks until none is left, recovering a memory fault.
func (p *pool) drain() {
	defer p.recoverFault(debug.SetPanicOnFault(true))
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
		p.inline(t, chunks)
		return
	}
	p.run(t, chunks)
}

// inline runs every chunk on the calling goroutine, recovering a memory fault.
func (p *pool) inline(t rangeTask, chunks int) {
	defer p.recoverFault(debug.SetPanicOnFault(true))
	for c := 0; c < chunks; c++ {
		t.do(c)
	}
}

// recoverFault is deferred by the functions that run chunks, with the
// goroutine's previous SetPanicOnFault setting: it restores the setting and
// records a recovered memory fault; any other panic goes on.
func (p *pool) recoverFault(old bool) {
	debug.SetPanicOnFault(old)
	r := recover()
	if r == nil {
		return
	}
	err := backend.FaultError(r)
	if err == nil {
		panic(r)
	}
	p.faultMu.Lock()
	if p.fault == nil {
		p.fault = err
	}
	p.faultMu.Unlock()
}

// takeFault returns and clears the first memory fault recovered since the
// last call.
func (p *pool) takeFault() error {
	p.faultMu.Lock()
	defer p.faultMu.Unlock()
	err := p.fault
	p.fault = nil
	return err
}

// run executes t.do(0..chunks-1) across the pool and returns when all are done.
func (p *pool) run(t rangeTask, chunks int) {
	if chunks <= 0 {
		return
	}
	if chunks == 1 || p.workers == 0 {
		p.inline(t, chunks)
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
