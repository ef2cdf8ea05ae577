package weights

import "errors"

// ReadSafetensors parses a safetensors file. (placeholder, being implemented)
func ReadSafetensors(data []byte) (*File, error) {
	return nil, errors.New("weights: safetensors reader not implemented yet")
}
