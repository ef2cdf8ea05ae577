package weights

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Limits on what a .pth checkpoint may make the reader allocate.
const (
	// pthMaxPickle caps the size of the data.pkl record.
	pthMaxPickle = 1 << 30
	// pthInflateBase and pthInflateRatio bound the total inflated size of
	// compressed entries to base + ratio * archive size, so a small archive
	// cannot inflate into a huge allocation. Stored entries, which torch.save
	// writes, are sliced from the file and need no memory.
	pthInflateBase  = 1 << 28
	pthInflateRatio = 64
)

// pthNestedKeys are the keys under which some checkpoints keep the state dict.
var pthNestedKeys = []string{"state_dict", "model", "module", "model_state_dict", "params", "weights"}

// pthReader resolves storages of one zip checkpoint.
type pthReader struct {
	data     []byte
	prefix   string
	entries  map[string]*zip.File
	storages map[string]*pyStorage
	inflate  uint64 // bytes compressed entries may still inflate to
}

// ReadPTH parses a PyTorch zip checkpoint (torch.save since torch 1.6):
// <prefix>/data.pkl, a pickle of the state dict, and <prefix>/data/<key>, one
// entry per storage. The pickle is interpreted by a restricted unpickler that
// only builds inert values and knows only the globals a state dict needs
// (collections.OrderedDict, torch's tensor and parameter rebuild functions,
// torch.FloatStorage, HalfStorage and BFloat16Storage); anything else is an
// error. The top-level object must be a dict of name -> tensor (or hold one
// under a key such as "state_dict" or "model"); plain scalar and string values
// beside the tensors are skipped. Tensors come in pickle order with PyTorch
// shapes; they must be contiguous. Stored (uncompressed) entries are aliased,
// not copied.
func ReadPTH(data []byte) (*File, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fmt.Errorf("weights: pth checkpoint is not a valid zip archive: %v", err)
	}
	r := &pthReader{data: data, entries: make(map[string]*zip.File, len(zr.File)), storages: make(map[string]*pyStorage),
		inflate: pthInflateBase + pthInflateRatio*uint64(len(data))}
	var pkl *zip.File
	for _, f := range zr.File {
		if _, dup := r.entries[f.Name]; dup {
			return nil, fmt.Errorf("weights: pth archive has duplicate entry %q", f.Name)
		}
		r.entries[f.Name] = f
		if f.Name == "data.pkl" || strings.HasSuffix(f.Name, "/data.pkl") {
			if pkl != nil {
				return nil, fmt.Errorf("weights: pth archive has more than one data.pkl (%q and %q)", pkl.Name, f.Name)
			}
			pkl = f
		}
	}
	if pkl == nil {
		return nil, errors.New("weights: pth archive has no data.pkl (not a torch.save checkpoint)")
	}
	r.prefix = strings.TrimSuffix(pkl.Name, "data.pkl")
	if bo, ok := r.entries[r.prefix+"byteorder"]; ok {
		b, err := r.entryBytes(bo, 64)
		if err != nil {
			return nil, err
		}
		if order := strings.TrimSpace(string(b)); order != "little" {
			return nil, fmt.Errorf("weights: pth checkpoint byte order is %q; only little-endian checkpoints are supported", order)
		}
	}
	pickle, err := r.entryBytes(pkl, pthMaxPickle)
	if err != nil {
		return nil, err
	}
	obj, err := unpickle(pickle, r.persistentLoad)
	if err != nil {
		return nil, err
	}
	sd, err := stateDict(obj)
	if err != nil {
		return nil, err
	}
	f := &File{Format: FormatPTH}
	for i, k := range sd.keys {
		v := sd.vals[i]
		t, ok := v.(*pyTensor)
		if !ok {
			if isPlainScalar(v) {
				continue
			}
			return nil, fmt.Errorf("weights: pth state dict entry %s is a %s, not a tensor", keyString(k), pyTypeName(v))
		}
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("weights: pth state dict key %s is a %s, not a string", keyString(k), pyTypeName(k))
		}
		tensor, err := r.tensor(name, t)
		if err != nil {
			return nil, err
		}
		f.Tensors = append(f.Tensors, tensor)
	}
	return f, nil
}

// stateDict finds the name -> tensor dict in the unpickled object.
func stateDict(obj any) (*pyDict, error) {
	top, ok := obj.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("weights: pth checkpoint holds a %s, not a state dict", pyTypeName(obj))
	}
	for _, v := range top.vals {
		if _, ok := v.(*pyTensor); ok {
			return top, nil
		}
	}
	for _, k := range pthNestedKeys {
		if v, ok := top.get(k); ok {
			if d, ok := v.(*pyDict); ok {
				return d, nil
			}
		}
	}
	return top, nil
}

// entryBytes returns an entry's contents: a slice of the archive for stored
// entries, or its inflated bytes (at most limit) for compressed ones.
func (r *pthReader) entryBytes(f *zip.File, limit uint64) ([]byte, error) {
	size := f.UncompressedSize64
	if size > limit {
		return nil, fmt.Errorf("weights: pth entry %q is too large (%d bytes)", f.Name, size)
	}
	if f.Method == zip.Store {
		if f.CompressedSize64 != size {
			return nil, fmt.Errorf("weights: pth entry %q: stored sizes disagree (%d vs %d)", f.Name, f.CompressedSize64, size)
		}
		off, err := f.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("weights: pth entry %q: %v", f.Name, err)
		}
		if off < 0 || uint64(off) > uint64(len(r.data)) || size > uint64(len(r.data))-uint64(off) {
			return nil, fmt.Errorf("weights: pth entry %q extends beyond the end of the file", f.Name)
		}
		return r.data[off : uint64(off)+size : uint64(off)+size], nil
	}
	if size > r.inflate {
		return nil, fmt.Errorf("weights: pth entry %q is compressed and too large (%d bytes)", f.Name, size)
	}
	r.inflate -= size
	if err := CheckHostAlloc(fmt.Sprintf("inflating pth entry %q", f.Name), size); err != nil {
		return nil, err
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("weights: pth entry %q: %v", f.Name, err)
	}
	defer rc.Close()
	// ReadAll grows with the bytes actually inflated, so a false declared size
	// cannot make it allocate more than the stream yields (and at most size+1).
	b, err := io.ReadAll(io.LimitReader(rc, int64(size)+1))
	if err != nil {
		return nil, fmt.Errorf("weights: pth entry %q: %v", f.Name, err)
	}
	if uint64(len(b)) != size {
		return nil, fmt.Errorf("weights: pth entry %q: inflated size %d differs from the declared %d", f.Name, len(b), size)
	}
	return b, nil
}

// persistentLoad resolves ('storage', storage_type, key, location, numel).
func (r *pthReader) persistentLoad(pid any) (any, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) != 5 {
		return nil, fmt.Errorf("weights: pth persistent id is a %s, not a 5-tuple", pyTypeName(pid))
	}
	if s, ok := t[0].(string); !ok || s != "storage" {
		return nil, errors.New("weights: pth persistent id is not a storage reference")
	}
	typ, ok := t[1].(pyGlobal)
	if !ok || typ.kind != globStorage {
		return nil, fmt.Errorf("weights: pth storage type is a %s", pyTypeName(t[1]))
	}
	key, ok := t[2].(string)
	if !ok {
		return nil, fmt.Errorf("weights: pth storage key is a %s", pyTypeName(t[2]))
	}
	if _, ok := t[3].(string); !ok {
		return nil, fmt.Errorf("weights: pth storage %q: location is a %s", key, pyTypeName(t[3]))
	}
	numel, ok := t[4].(int64)
	if !ok || numel < 0 {
		return nil, fmt.Errorf("weights: pth storage %q: invalid element count", key)
	}
	if s, ok := r.storages[key]; ok {
		if s.typ.name != typ.name || s.numel != numel {
			return nil, fmt.Errorf("weights: pth storage %q is referenced with different types or sizes", key)
		}
		return s, nil
	}
	s := &pyStorage{typ: typ, key: key, numel: numel}
	if typ.supported {
		entry, ok := r.entries[r.prefix+"data/"+key]
		if !ok {
			return nil, fmt.Errorf("weights: pth storage %q has no archive entry %q", key, r.prefix+"data/"+key)
		}
		es := int64(typ.dtype.BlockBytes())
		nbytes, ok := mulCheck(numel, es, math.MaxInt64)
		if !ok || uint64(nbytes) != entry.UncompressedSize64 {
			return nil, fmt.Errorf("weights: pth storage %q declares %d %s elements but its entry holds %d bytes", key, numel, typ.dtype, entry.UncompressedSize64)
		}
		b, err := r.entryBytes(entry, math.MaxInt64)
		if err != nil {
			return nil, err
		}
		s.data = b
	}
	r.storages[key] = s
	return s, nil
}

// tensor validates a rebuilt tensor view and slices its bytes.
func (r *pthReader) tensor(name string, t *pyTensor) (*Tensor, error) {
	s := t.storage
	if !s.typ.supported {
		return nil, fmt.Errorf("weights: pth tensor %q has unsupported storage type %s (supported: float32, float16, bfloat16)", name, storageDesc(s.typ))
	}
	shape := make([]int, len(t.shape))
	numel := int64(1)
	for i, d := range t.shape {
		n, ok := mulCheck(numel, d, math.MaxInt64)
		if !ok {
			return nil, fmt.Errorf("weights: pth tensor %q: shape %v overflows", name, t.shape)
		}
		numel = n
		if d > math.MaxInt {
			return nil, fmt.Errorf("weights: pth tensor %q: dimension %d too large", name, d)
		}
		shape[i] = int(d)
	}
	// Require row-major contiguous strides (dimensions of size 1 may have any
	// stride, as in PyTorch's is_contiguous).
	if numel > 0 {
		want := int64(1)
		for i := len(t.shape) - 1; i >= 0; i-- {
			if t.shape[i] != 1 && t.stride[i] != want {
				return nil, fmt.Errorf("weights: pth tensor %q is not contiguous (shape %v, stride %v); save it with .contiguous()", name, t.shape, t.stride)
			}
			want *= t.shape[i] // cannot overflow: bounded by numel
		}
	}
	end := t.offset + numel
	if end < t.offset || end > s.numel {
		return nil, fmt.Errorf("weights: pth tensor %q: %d elements at offset %d exceed its storage %q of %d elements", name, numel, t.offset, s.key, s.numel)
	}
	es := int64(s.typ.dtype.BlockBytes())
	var data []byte
	if numel > 0 {
		data = s.data[t.offset*es : end*es : end*es]
	} else {
		data = []byte{}
	}
	return &Tensor{Name: name, DType: s.typ.dtype, Shape: shape, Data: data}, nil
}
