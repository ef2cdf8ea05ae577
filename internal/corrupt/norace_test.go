//go:build !race

package corrupt

// raceBuild is true when the test runs under the race detector.
const raceBuild = false
