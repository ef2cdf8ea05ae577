package weights

import "errors"

// ReadGGML parses a file in rwkv.cpp's format. (placeholder, being implemented)
func ReadGGML(data []byte) (*File, error) {
	return nil, errors.New("weights: rwkv.cpp reader not implemented yet")
}
