package backend

import (
	"errors"

	"github.com/rwkvgo/rwkvgo/sampler"
)

// ErrDecodeUnsupported is wrapped by the errors of NewDecodeLoop and
// DecodeLoop.SetRow for sizes and sampling settings the device loop does
// not implement (not for device failures): a caller may then sample on the
// host instead.
var ErrDecodeUnsupported = errors.New("backend: not available on the device decode loop")

// DeviceDecoder is implemented by device backends that keep the decode loop
// on the device (the CUDA backend): the token ids, the sampler and the stop
// checks, so that a decode step moves no logits to the host and waits for
// nothing. Optional: without it the engine samples on the host.
type DeviceDecoder interface {
	// NewDecodeLoop returns a loop of rows rows over a vocabulary of vocab
	// ids, whose results ring holds depth launches (>= 2). Every row
	// starts idle. Sizes it does not take wrap ErrDecodeUnsupported.
	NewDecodeLoop(rows, vocab, depth int) (DecodeLoop, error)
}

// DecodeRow configures one row of a DecodeLoop: one sequence.
type DecodeRow struct {
	// Slot is the sequence's row of the state tensors the step's
	// operations use (the same row of each layer's).
	Slot int
	// Token is the token the row's next decode step feeds (Admit feeds
	// nothing).
	Token int
	// Sampler are the sampling settings; Seq the sequence id and Step the
	// Philox step of the row's next draw (the index of the token it
	// draws), as sampler.Sampler.Sample's seq and step. History is
	// recorded in the penalty state before the first draw. Sampler's
	// StopTokens end the row on the device.
	Sampler sampler.Config
	Seq     uint64
	Step    uint64
	History []int
	// Remaining is the number of tokens the row may draw (>= 1).
	Remaining int
	// Logprobs asks for each drawn token's log-probability under the
	// model (the log-softmax of the raw logits); TopLogprobs (with
	// Logprobs, 0..MaxTopLogprobs) for that many most likely tokens with
	// theirs (DecodeLoop.ReadTop).
	Logprobs    bool
	TopLogprobs int
}

// MaxTopLogprobs is the most alternatives a decode loop row lists
// (DecodeRow.TopLogprobs), as many as the OpenAI API allows.
const MaxTopLogprobs = 20

// DecodeTop is one of the most likely tokens of a row's draw.
type DecodeTop struct {
	Token   int32 // -1: none (fewer finite logits than asked for)
	Logprob float32
}

// DecodeFlags describe a row's result in one launch.
type DecodeFlags uint32

// Decode flags.
const (
	DecodeDone    DecodeFlags = 1 // the row finished with this token (idle from the next launch)
	DecodeStop    DecodeFlags = 2 // the token is one of the row's stop tokens (with DecodeDone)
	DecodeNoToken DecodeFlags = 4 // every token was filtered out: Token is -1 (with DecodeDone)
	DecodeIdle    DecodeFlags = 8 // the row drew nothing in this launch
)

// DecodeResult is what one launch drew for one row.
type DecodeResult struct {
	Token   int32
	Flags   DecodeFlags
	Logprob float32
}

// DecodeLoop is a device-resident decode loop over Rows() sequences. A
// decode step over rows [0, n) is
//
//	BeginStep(n); Embed(x, emb); ...the layers and the head...; Sample(logits); Commit()
//
// where the operations between BeginStep and Sample run on the step's batch
// (one row per decoder row, the rows' state slots; an idle row's state is
// left untouched and its draw skipped). An admission draw, Admit then
// Commit, draws rows' first tokens from a prefill's logits. Each commit
// returns a launch number; Read returns a launch's results once the device
// has produced them. At most depth launches may be committed and unread.
// Operations record errors like the backend's (its Err reports them).
type DecodeLoop interface {
	Rows() int
	// SetRow configures row (idle until then). An error leaves the row
	// idle; settings the device cannot honour wrap ErrDecodeUnsupported.
	SetRow(row int, r DecodeRow) error
	// ClearRow makes row idle (queued after the launches queued before).
	ClearRow(row int) error
	// BeginStep begins a decode step over rows [0, n), in place of the
	// backend's BeginStep; n is a power of two below Rows(), or Rows().
	BeginStep(n int)
	// Embed sets out[i] = emb[next token of row i] for i < out.Rows().
	Embed(out, emb Tensor)
	// Sample draws row i from logits row i for i < logits.Rows().
	Sample(logits Tensor)
	// Admit draws row rows[i] from logits row i where rows[i] >= 0
	// (len(rows) == logits.Rows()).
	Admit(logits Tensor, rows []int)
	// Commit ends the launch queued last and returns its number.
	Commit() (uint64, error)
	// Read writes the results of launch for rows [0, len(out)) once they
	// are available; without wait it returns false at once when they are
	// not yet.
	Read(launch uint64, wait bool, out []DecodeResult) (bool, error)
	// ReadTop writes the len(out) (<= the row's TopLogprobs) most likely
	// tokens of row's draw in launch (highest first, the lower id on ties)
	// with their log-probabilities, after Read has returned launch and
	// before depth later commits. Only the bytes of out cross to the host.
	ReadTop(launch uint64, row int, out []DecodeTop) error
	// Close releases the loop.
	Close() error
}

// GraphCapturer is implemented by backends that record the operations
// queued between BeginCapture and EndCapture as a graph replayed by one
// launch (CUDA graphs). During a capture only operations may be queued (no
// Upload, New, View, Read or Write).
type GraphCapturer interface {
	BeginCapture() error
	EndCapture() (Graph, error)
}

// Graph is a captured sequence of operations.
type Graph interface {
	// Launch replays the graph (asynchronously; errors surface through the
	// backend's Err).
	Launch()
	// Close releases the graph.
	Close()
}
