//go:build race

package corrupt

// raceBuild is true when the test runs under the race detector, which slows
// the loaders roughly tenfold; the test then does less work.
const raceBuild = true
