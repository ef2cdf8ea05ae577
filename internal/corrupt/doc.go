// Package corrupt holds the robustness test of every exported file loader
// (model containers, the model builder, tokenizers, state files) against
// truncated and bit-flipped copies of the shared test files. It has no
// non-test code.
package corrupt
