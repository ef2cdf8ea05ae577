#!/usr/bin/env bash
# Builds the GPU kit into build/gpu-kit (`make gpu-kit`): the CGO_ENABLED=0
# bindings test binary and CLI (bin/), the library's C/CUDA sources and
# their lists from CMakeLists.txt (src/), a subset of the shared test data
# with its reference index (testdata/), the PyTorch peer (peer/), run.sh and
# summarize.py, and the rwkv pip package's wheel when pip can fetch it. The kit must stay under 64 MiB; the build fails above
# GPU_KIT_MAX_MIB (48).
set -euo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
KIT=build/gpu-kit
SHARED=${RWKVGO_TESTDATA:-../shared/testdata}
MAX_MIB=${GPU_KIT_MAX_MIB:-48}
[[ -f $SHARED/reference/index.json ]] || {
	echo "gpu-kit: no shared test data at $SHARED (set RWKVGO_TESTDATA)" >&2
	exit 1
}
rm -rf "$KIT"
mkdir -p "$KIT/bin" "$KIT/src" "$KIT/testdata/reference" "$KIT/peer"

# Binaries: no cgo, so no Go toolchain and no CUDA at build time; the purego
# loader opens the library that run.sh builds.
CGO_ENABLED=0 $GO test -c -trimpath -ldflags='-s -w' -o "$KIT/bin/bindings.test" ./bindings
CGO_ENABLED=0 $GO build -trimpath -ldflags='-s -w' -o "$KIT/bin/rwkvgo" ./cmd/rwkvgo
gzip -9 -f "$KIT/bin/rwkvgo"

# Sources: the library's lists as CMakeLists.txt has them, the files, the
# emulator's headers (GPU_KIT_EMU=1).
cmake_list() { tr '\n' ' ' <CMakeLists.txt | grep -o "set($1 [^)]*)" | sed -e "s/set($1 //" -e 's/)$//' | tr -s ' '; }
cmake_list RWKVCU_SOURCES >"$KIT/src/sources.txt"
cmake_list RWKVCU_BENCH_SOURCES >"$KIT/src/bench_sources.txt"
[[ -s $KIT/src/sources.txt && -s $KIT/src/bench_sources.txt ]] || {
	echo "gpu-kit: source lists not found in CMakeLists.txt" >&2
	exit 1
}
git ls-files csrc cuda | grep -Ev '\.go$|/(kerneltest|mmtest|sampletest|devicecheck|emutest)/|testdata/' |
	while read -r f; do
		mkdir -p "$KIT/src/$(dirname "$f")"
		cp "$f" "$KIT/src/$f"
	done
cp CMakeLists.txt "$KIT/src/"
for f in $(cat "$KIT/src/sources.txt" "$KIT/src/bench_sources.txt"); do
	[[ -f $KIT/src/$f ]] || {
		echo "gpu-kit: $f missing from the kit's sources" >&2
		exit 1
	}
done

# Test data: every version in FP32, RWKV-7 in FP16 and three quantized
# types, v5.2 in Q5_0, with the reference outputs of those models only.
MODELS=(tiny-rwkv-4v0-660K-FP32.bin tiny-rwkv-5v1-730K-FP32.bin tiny-rwkv-5v2-730K-FP32.bin tiny-rwkv-6v0-1m-FP32.bin
	tiny-rwkv-7v0-834K-FP32.bin tiny-rwkv-7v0-834K-FP16.bin tiny-rwkv-7v0-834K-FP32-to-Q4_0.bin tiny-rwkv-7v0-834K-Q5_1.bin
	tiny-rwkv-7v0-834K-FP32-to-Q8_0.bin tiny-rwkv-5v2-730K-Q5_0.bin)
for m in "${MODELS[@]}"; do
	found=
	for d in rwkv.cpp/tests rwkv.cpp/tests-history rwkv.cpp/quantized-by-rwkv.cpp; do
		if [[ -f $SHARED/$d/$m ]]; then
			mkdir -p "$KIT/testdata/$d"
			cp "$SHARED/$d/$m" "$KIT/testdata/$d/"
			found=1
			break
		fi
	done
	[[ -n $found ]] || {
		echo "gpu-kit: $m not in $SHARED" >&2
		exit 1
	}
done
python3 - "$SHARED/reference" "$KIT/testdata/reference" "${MODELS[@]}" <<'PY'
import json, shutil, sys, os
src, dst, models = sys.argv[1], sys.argv[2], set(sys.argv[3:])
entries = [e for e in json.load(open(os.path.join(src, "index.json"))) if e["model"] in models]
if {e["model"] for e in entries} != models:
    sys.exit("gpu-kit: models without reference outputs: %s" % sorted(models - {e["model"] for e in entries}))
for e in entries:
    for f in (e["logits_file"], e["state_file"]):
        shutil.copy(os.path.join(src, f), os.path.join(dst, f))
json.dump(entries, open(os.path.join(dst, "index.json"), "w"), indent=1)
print("gpu-kit: %d reference entries for %d models" % (len(entries), len(models)))
PY

cp ci/gpu-kit/run.sh ci/gpu-kit/summarize.py "$KIT/"
cp ci/gpu-kit/peer/rwkv7_torch.py "$KIT/peer/"
# The rwkv pip package (pure Python; its RWKV-7 decode runs on PyTorch): the
# peer for batch 1, carried, never committed. Without a network the kit goes
# without it and the peer is the PyTorch stand-in alone.
RWKV_PIP=${GPU_KIT_RWKV_PIP:-rwkv==0.8.32}
if [[ -n $RWKV_PIP ]] && ! python3 -m pip download -q --no-deps -d "$KIT/peer" "$RWKV_PIP" >/dev/null 2>&1; then
	echo "gpu-kit: could not fetch the $RWKV_PIP wheel; the peer is the PyTorch stand-in alone"
fi
chmod +x "$KIT/run.sh"
mib=$(du -sm "$KIT" | cut -f1)
echo "gpu-kit: $KIT is ${mib} MiB ($(du -sh "$KIT/bin" | cut -f1) binaries, $(du -sh "$KIT/src" | cut -f1) sources, $(du -sh "$KIT/testdata" | cut -f1) test data)"
if ((mib > MAX_MIB)); then
	echo "gpu-kit: over ${MAX_MIB} MiB" >&2
	exit 1
fi
