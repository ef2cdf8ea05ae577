#!/usr/bin/env bash
# The GPU kit's device check (built by `make gpu-kit` into build/gpu-kit/).
# Needs no Go toolchain: the test binaries and the CLI are CGO_ENABLED=0 and
# open the library built here at run time (purego, $RWKVGO_CUDA_LIB).
#
#   OUT=DIR ./run.sh           on a GPU: builds librwkvcu with this machine's
#                              nvcc for its own GPU, then runs every stage
#   GPU_KIT_EMU=1 OUT=DIR ./run.sh
#                              the same stages on the emulated library (g++,
#                              small shapes): what CI runs so the kit never rots
#
# Stages: build, conformance, reference outputs (every model the kit carries),
# sampler, graph replay, step ledger, bench kernels, bench end to end (RWKV-7
# 0.1B and 1.5B fp16 at batch 1, 8, 64, 256), memory vs sequence length, the
# PyTorch peer, an NVML trace (nvidia-smi) throughout. Each stage has a time
# budget, printed as it goes; a failing stage is recorded and the run goes on.
# $OUT receives at most 8 files: summary.json, summary.md, run.log and plots.
# The exit status is 0 when every stage passed (skipped stages count as
# passed), 1 otherwise.
set -uo pipefail
KIT=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$KIT/out}
EMU=${GPU_KIT_EMU:-0}
TOTAL_BUDGET=${GPU_KIT_BUDGET:-450}
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-kit.XXXXXX")
LOG=$OUT/run.log
: >"$LOG"
STAGES=$WORK/stages.tsv
: >"$STAGES"
T0=$(date +%s)

say() { echo "[gpu-kit $(($(date +%s) - T0))s] $*" | tee -a "$LOG"; }

# killtree PID: ends PID and its descendants (a stage that ran out of time).
killtree() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		killtree "$c"
	done
	kill -TERM "$1" 2>/dev/null
}

# stage NAME BUDGET_S CMD...: runs CMD (a command or a function of this
# script) with a time limit of BUDGET_S seconds (less if the run's total
# budget is nearly spent), its output into run.log. CMD returning 77 means
# skipped.
stage() {
	local name=$1 budget=$2
	shift 2
	local left=$((TOTAL_BUDGET - ($(date +%s) - T0)))
	if ((left < 5)); then
		say "$name: skipped, total budget of ${TOTAL_BUDGET}s spent"
		printf '%s\tskipped\t0\t%s\tbudget spent\n' "$name" "$budget" >>"$STAGES"
		return 0
	fi
	((budget > left)) && budget=$left
	say "$name: start (budget ${budget}s, ${left}s of ${TOTAL_BUDGET}s left)"
	local s rc timedout=0
	s=$(date +%s)
	"$@" >>"$LOG" 2>&1 &
	local pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if (($(date +%s) - s >= budget)); then
			killtree "$pid"
			timedout=1
			break
		fi
		sleep 0.5
	done
	wait "$pid"
	rc=$?
	local took=$(($(date +%s) - s)) status=pass
	if ((timedout)); then
		status=timeout
	elif ((rc == 77)); then
		status=skipped
	elif ((rc != 0)); then
		status=fail
	fi
	printf '%s\t%s\t%s\t%s\trc=%s\n' "$name" "$status" "$took" "$budget" "$rc" >>"$STAGES"
	say "$name: $status in ${took}s (rc $rc)"
}

# The library ---------------------------------------------------------------
LIB=$WORK/lib
mkdir -p "$LIB"
SRC=$KIT/src
read -r -a SOURCES <"$SRC/sources.txt"
read -r -a BENCH_SOURCES <"$SRC/bench_sources.txt"

build_emu() {
	local cxx=${CXX:-g++}
	local flags=(-std=c++20 -O2 -ffp-contract=off -fPIC -fvisibility=hidden -Wno-unknown-pragmas -I"$SRC/cuda/emu/include" -I"$SRC/cuda")
	# fmaf as one instruction where this CPU has FMA (as the CMake build).
	grep -qw fma /proc/cpuinfo 2>/dev/null && flags+=(-mfma)
	printf '%s\n' "${SOURCES[@]}" "${BENCH_SOURCES[@]}" | xargs -P "$(nproc)" -I{} \
		sh -c "$cxx ${flags[*]} -x c++ -c \"$SRC/{}\" -o \"$LIB/\$(echo {} | tr / _).o\"" || return 1
	$cxx -shared -o "$LIB/librwkvcu_emu.so" $(for s in "${SOURCES[@]}"; do echo "$LIB/$(echo "$s" | tr / _).o"; done) -lpthread || return 1
	$cxx -shared -Wl,--no-as-needed -o "$LIB/librwkvcu_bench_emu.so" \
		$(for s in "${BENCH_SOURCES[@]}"; do echo "$LIB/$(echo "$s" | tr / _).o"; done) \
		-Wl,-rpath,'$ORIGIN' -L"$LIB" -lrwkvcu_emu -lpthread || return 1
	echo "built $LIB/librwkvcu_emu.so and librwkvcu_bench_emu.so with $($cxx --version | head -1)"
}

build_cuda() {
	local nvcc
	nvcc=$(command -v nvcc || true)
	[[ -z $nvcc && -x /usr/local/cuda/bin/nvcc ]] && nvcc=/usr/local/cuda/bin/nvcc
	if [[ -z $nvcc ]]; then
		echo "no nvcc (PATH, /usr/local/cuda/bin)"
		return 1
	fi
	local cc
	cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader -i 0 | head -1 | tr -d ' .')
	[[ -n $cc ]] || cc=90
	echo "nvcc: $nvcc ($("$nvcc" --version | tail -1)); compute capability $cc"
	local cudahome
	cudahome=$(dirname "$(dirname "$nvcc")")
	local flags=(-O3 -std=c++17 -Xcompiler -fPIC,-fvisibility=hidden "-gencode=arch=compute_$cc,code=sm_$cc"
		"-DRWKVCU_CUDA_ARCHS=\"$cc\"" -I"$SRC/cuda")
	printf '%s\n' "${SOURCES[@]}" "${BENCH_SOURCES[@]}" | xargs -P "$(nproc)" -I{} \
		sh -c "$nvcc $(printf '%q ' "${flags[@]}") -c \"$SRC/{}\" -o \"$LIB/\$(echo {} | tr / _).o\"" || return 1
	"$nvcc" -shared -o "$LIB/librwkvcu.so" $(for s in "${SOURCES[@]}"; do echo "$LIB/$(echo "$s" | tr / _).o"; done) || return 1
	"$nvcc" -shared -o "$LIB/librwkvcu_bench.so" $(for s in "${BENCH_SOURCES[@]}"; do echo "$LIB/$(echo "$s" | tr / _).o"; done) \
		-Xlinker --no-as-needed -Xlinker -rpath -Xlinker '$ORIGIN' -L"$LIB" -lrwkvcu -L"$cudahome/lib64" -lcublas || return 1
	echo "built $LIB/librwkvcu.so and librwkvcu_bench.so for sm_$cc"
}

if [[ $EMU == 1 ]]; then
	say "mode: emulated library (GPU_KIT_EMU=1): small shapes, no GPU"
	stage build 240 build_emu
	export RWKVGO_CUDA_LIB=$LIB/librwkvcu_emu.so
else
	say "mode: GPU ($(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader -i 0 2>/dev/null || echo 'nvidia-smi unavailable'))"
	stage build 150 build_cuda
	export RWKVGO_CUDA_LIB=$LIB/librwkvcu.so
fi

# The NVML trace: nvidia-smi samples the GPU every 200 ms for the whole run.
TRACE=$WORK/nvml.csv
if [[ $EMU != 1 ]] && command -v nvidia-smi >/dev/null; then
	nvidia-smi --query-gpu=timestamp,power.draw,utilization.gpu,utilization.memory,memory.used,clocks.sm,clocks.mem,temperature.gpu \
		--format=csv,noheader,nounits -lms 200 -i 0 >"$TRACE" 2>/dev/null &
	TRACE_PID=$!
fi
mark() { echo "$(date '+%Y/%m/%d %H:%M:%S.000'),#,$1" >>"$WORK/marks.csv"; }

BIN=$KIT/bin
RWKVGO=$WORK/rwkvgo
gunzip -c "$BIN/rwkvgo.gz" >"$RWKVGO" && chmod +x "$RWKVGO"
export RWKVGO_TESTDATA=$KIT/testdata RWKVGO_TESTDATA_SUBSET=1 RWKVGO_REQUIRE_TESTDATA=1

gotest() { (cd "$KIT/testdata" && "$BIN/bindings.test" -test.count=1 -test.v "$@"); }

if [[ -f $RWKVGO_CUDA_LIB ]]; then
	mark conformance
	stage conformance 60 gotest -test.run '^TestPurego$'
	mark reference
	if [[ $EMU == 1 ]]; then
		# The emulator is slow: the RWKV-7 models only.
		stage reference-outputs 120 gotest -test.run '^TestPuregoReferenceOutputs$/7v0'
	else
		stage reference-outputs 60 gotest -test.run '^TestPuregoReferenceOutputs$'
	fi
	mark sampler
	stage sampler 60 gotest -test.run '^TestPuregoSampler$'
	mark graph
	stage graph 30 gotest -test.run '^TestPuregoGraph$'
	mark decode-loop
	stage decode-loop 60 gotest -test.run '^TestPuregoDeviceDecode$'
else
	say "no library: the device stages are skipped"
	for s in conformance reference-outputs sampler graph decode-loop; do
		printf '%s\tfail\t0\t0\tno library\n' "$s" >>"$STAGES"
	done
fi

# Shapes -----------------------------------------------------------------------
if [[ $EMU == 1 ]]; then
	SHAPES=(v7-tiny)
	BATCHES=1,2
	KERNEL_ARGS=(--shapes v7-tiny --rows 1,2 --repeats 2 --warmup 1 --context 16)
	E2E_ARGS=(--prompt-tokens 8 --decode-tokens 2 --warmup 1)
	LEDGER_BATCHES=1,2
	SCALING_ARGS=(--layers 2 --width 64 --vocab 256 --head-size 16 --contexts 16,64 --decode-tokens 2 --warmup 1)
else
	SHAPES=(v7-0.1b v7-1.5b)
	BATCHES=1,8,64,256
	KERNEL_ARGS=(--shapes v7-0.1b,v7-1.5b --rows 1,8,64,256 --repeats 20 --warmup 3)
	E2E_ARGS=(--prompt-tokens 128 --decode-tokens 16 --warmup 2)
	LEDGER_BATCHES=1,8,64,256
	SCALING_ARGS=(--layers 12 --width 768 --vocab 65536 --head-size 64 --contexts 256,1024,4096 --decode-tokens 8 --warmup 2)
fi

# Synthetic fp16 models (safetensors) for the end-to-end bench and the ledger.
synth() {
	for s in "${SHAPES[@]}"; do
		local p
		case $s in
		v7-tiny) p=(--layers 2 --width 64 --vocab 256 --head-size 16) ;;
		v7-0.1b) p=(--layers 12 --width 768 --vocab 65536) ;;
		v7-1.5b) p=(--layers 24 --width 2048 --vocab 65536) ;;
		esac
		"$RWKVGO" synth --version 7 "${p[@]}" --dtype F16 --out "$WORK/$s-f16.safetensors" || return 1
	done
}
stage synth 90 synth

mark ledger
ledger() {
	local first=1
	echo '[' >"$WORK/ledger.json"
	for s in "${SHAPES[@]}"; do
		((first)) || echo ',' >>"$WORK/ledger.json"
		first=0
		"$RWKVGO" bench ledger --backend cuda --model "$WORK/$s-f16.safetensors" --batch "$LEDGER_BATCHES" --steps 4 --json >>"$WORK/ledger.json" || return 1
	done
	echo ']' >>"$WORK/ledger.json"
	# Every batch size has every field of the ledger.
	if command -v python3 >/dev/null; then
		python3 - "$WORK/ledger.json" <<'PY' || return 1
import json, sys
need = ("launches", "launches_per_layer", "graph_launches", "host_syncs", "h2d_bytes", "d2h_bytes", "allocations", "weight_bytes_per_step", "projection")
for l in json.load(open(sys.argv[1])):
    for r in l["runs"]:
        missing = [k for k in need if k not in r] + [d["device"] for d in r.get("projection", []) if "projected_tok_s" not in d]
        if missing:
            sys.exit("ledger: batch %d lacks %s" % (r["batch"], missing))
print("ledger: every field for every batch size")
PY
	fi
}
stage ledger 90 ledger

mark kernels
stage bench-kernels 90 "$RWKVGO" bench kernels --backend cuda "${KERNEL_ARGS[@]}" --dtype F16 --out "$WORK/kernels"

for s in "${SHAPES[@]}"; do
	mark "e2e $s"
	stage "bench-e2e-$s" 90 "$RWKVGO" bench --backend cuda --model "$WORK/$s-f16.safetensors" --batch "$BATCHES" "${E2E_ARGS[@]}" --out "$WORK/e2e-$s"
done

# The peers: the rwkv pip package's RWKV-7 path on the same model files
# (batch 1; its wheel is carried when `make gpu-kit` could fetch it), and a
# plain PyTorch RWKV-7 decode step on the same shapes at every batch size (a
# labelled stand-in for the public engines).
peer() {
	if [[ $EMU == 1 ]]; then
		echo "emulated run: no GPU for the peer"
		return 77
	fi
	if ! python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
		echo "no PyTorch with CUDA here"
		return 77
	fi
	local wheel extra=() models=()
	wheel=$(ls "$KIT"/peer/rwkv-*.whl 2>/dev/null | head -1)
	if [[ -n $wheel ]]; then
		for s in "${SHAPES[@]}"; do
			models+=("$s=$WORK/$s-f16.safetensors")
		done
		extra=(--rwkv-wheel "$wheel" --models "$(
			IFS=,
			echo "${models[*]}"
		)")
	fi
	python3 "$KIT/peer/rwkv7_torch.py" --shapes "$(
		IFS=,
		echo "${SHAPES[*]}"
	)" --batch "$BATCHES" --steps 16 --out "$WORK/peer.json" "${extra[@]}"
}
mark peer
stage peer 120 peer

mark scaling
stage memory-vs-length 60 "$RWKVGO" bench scaling --backend cuda "${SCALING_ARGS[@]}" --out "$WORK/scaling"

if [[ -n ${TRACE_PID:-} ]]; then
	kill "$TRACE_PID" 2>/dev/null
	wait "$TRACE_PID" 2>/dev/null
fi

# The report ---------------------------------------------------------------------
say "writing the report to $OUT"
if command -v python3 >/dev/null; then
	python3 "$KIT/summarize.py" --work "$WORK" --out "$OUT" --emu "$EMU" --shapes "$(
		IFS=,
		echo "${SHAPES[*]}"
	)" >>"$LOG" 2>&1 || say "summarize.py failed"
else
	# Without python3: the stage table alone.
	{
		echo "# GPU kit"
		echo
		echo "| stage | status | seconds | budget | note |"
		echo "|---|---|---:|---:|---|"
		awk -F'\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$STAGES"
	} >"$OUT/summary.md"
fi
failed=$(awk -F'\t' '$2 == "fail" || $2 == "timeout" { print $1 }' "$STAGES" | tr '\n' ' ')
say "done in $(($(date +%s) - T0))s; failed stages: ${failed:-none}"
rm -rf "$WORK"
[[ -z $failed ]]
