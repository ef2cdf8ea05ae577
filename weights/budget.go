package weights

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// Host memory budget. Every size a file declares is checked against the file
// itself before it is trusted (a tensor's bytes must lie inside the file, a
// storage's element count must match its archive entry); the few places that
// copy or inflate data into new memory also check the amount against what the
// host can give, so a file cannot make the process allocate past the address
// space or into the out-of-memory killer.

// availableMemory reports the memory the process may still allocate; tests
// replace it.
var availableMemory = hostAvailableMemory

// hostAvailableMemory returns the kernel's MemAvailable estimate, lowered to
// the cgroup (v2) limit's headroom when that is smaller. ok is false when
// neither is known (non-Linux systems).
func hostAvailableMemory() (avail uint64, ok bool) {
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if rest, found := strings.CutPrefix(sc.Text(), "MemAvailable:"); found {
				f := strings.Fields(rest)
				if len(f) == 2 && f[1] == "kB" {
					if kb, err := strconv.ParseUint(f[0], 10, 64); err == nil && kb <= math.MaxUint64/1024 {
						avail, ok = kb*1024, true
					}
				}
			}
		}
	}
	limit, err1 := readUintFile("/sys/fs/cgroup/memory.max")
	used, err2 := readUintFile("/sys/fs/cgroup/memory.current")
	if err1 == nil && err2 == nil {
		head := uint64(0)
		if limit > used {
			head = limit - used
		}
		if !ok || head < avail {
			avail, ok = head, true
		}
	}
	return avail, ok
}

func readUintFile(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64) // "max" is an error: no limit
}

// CheckHostAlloc returns an error when allocating n bytes for what (a short
// description for the message) is impossible: more than the address space
// holds, or more than the host's available memory when that is known. Call
// it before allocating an amount a file declares.
func CheckHostAlloc(what string, n uint64) error {
	if n > math.MaxInt {
		return fmt.Errorf("weights: %s needs %d bytes, more than the address space holds", what, n)
	}
	if avail, ok := availableMemory(); ok && n > avail {
		return fmt.Errorf("weights: %s needs %d bytes but only %d bytes of memory are available", what, n, avail)
	}
	return nil
}
