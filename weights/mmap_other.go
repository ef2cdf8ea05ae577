//go:build !unix

package weights

import (
	"errors"
	"os"
)

func mmap(*os.File, int64) ([]byte, func() error, error) {
	return nil, nil, errors.New("mmap unsupported")
}

func dropPages([]byte) {}

func populatePages([]byte) {}
