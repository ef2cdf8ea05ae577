package weights

import "testing"

// PTHArchive writes F32 tensors as a torch.save (.pth) archive, for the
// tests of package weights_test.
func PTHArchive(t testing.TB, tensors []*Tensor) []byte {
	return pthModel(t, &File{Tensors: tensors})
}
