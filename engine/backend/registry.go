package backend

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Factory opens a backend; threads is the number of CPU threads to use
// (0: all), which device backends may ignore.
type Factory func(threads int) (Backend, error)

// ErrNotBuilt is returned (wrapped) by Open for a backend of the project that
// this binary does not contain.
var ErrNotBuilt = errors.New("backend not built")

var (
	registryMu sync.Mutex
	factories  = map[string]Factory{}
	aliases    = map[string]string{}
	// missing explains, for the project's backends, why a binary may lack one.
	missing = map[string]string{
		"cpu":  "engine/cpu is not linked into this binary",
		"cuda": "this binary has no CUDA bindings (import package bindings)",
	}
)

// Register makes a backend available to Open under name. Backends call it
// from an init function of their package, so linking a backend's package is
// what makes it available. Registering a name twice replaces the factory.
func Register(name string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	factories[name] = f
}

// RegisterAlias makes Open accept alias as another name of the backend name.
func RegisterAlias(alias, name string) {
	registryMu.Lock()
	defer registryMu.Unlock()
	aliases[alias] = name
}

// Names returns the names Open accepts in this binary (aliases excluded), sorted.
func Names() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open opens the backend called name (or one of its aliases) with threads CPU
// threads. A backend of the project that this binary lacks gives an error
// wrapping ErrNotBuilt; an unknown name lists the available ones.
func Open(name string, threads int) (Backend, error) {
	registryMu.Lock()
	if n, ok := aliases[name]; ok {
		name = n
	}
	f, ok := factories[name]
	registryMu.Unlock()
	if !ok {
		if why, ok := missing[name]; ok {
			return nil, fmt.Errorf("%s %w (%s)", name, ErrNotBuilt, why)
		}
		return nil, fmt.Errorf("unknown backend %q (available: %v)", name, Names())
	}
	return f(threads)
}
