package weights

import "errors"

// ReadPTH parses a PyTorch zip checkpoint. (placeholder, being implemented)
func ReadPTH(data []byte) (*File, error) {
	return nil, errors.New("weights: pth reader not implemented yet")
}
