//go:build unix

package vec

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process has used (user and system), or
// 0 when it is unknown. Benchmarks report it per operation, a figure less
// disturbed than wall time when other processes share the CPUs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
