#!/usr/bin/env bash
# The repetition study: runs `rwkvgo eval repetition` on each model with the
# committed inputs (eval/testdata/prompts.jsonl, eval/strategies.json) and
# replaces the tables between the study markers of README.md with exactly
# what the command printed (each model's report.md).
#
#   eval/study.sh RWKVGO OUTDIR MODEL...
set -euo pipefail
bin=$1 out=$2
shift 2
: "${STUDY_MAX_TOKENS:=128}" "${STUDY_SEED:=0}"
mkdir -p "$out"
tables="$out/tables.md"
: >"$tables"
for model in "$@"; do
	name=$(basename "$model")
	name=${name%.*}
	echo "== $name" >&2
	"$bin" eval repetition --model "$model" --prompts eval/testdata/prompts.jsonl --strategies eval/strategies.json \
		--max-tokens "$STUDY_MAX_TOKENS" --seed "$STUDY_SEED" --threads 1 --out "$out/$name" >"$out/$name.printed.md"
	cmp -s "$out/$name.printed.md" "$out/$name/report.md" || { echo "printed table differs from report.md" >&2; exit 1; }
	{ cat "$out/$name.printed.md"; echo; } >>"$tables"
done
begin='<!-- repetition-study:begin (make study) -->'
end='<!-- repetition-study:end -->'
grep -qF "$begin" README.md && grep -qF "$end" README.md || { echo "README.md lacks the study markers" >&2; exit 1; }
awk -v begin="$begin" -v end="$end" -v tables="$tables" '
	$0 == begin { print; print ""; while ((getline line < tables) > 0) print line; skip = 1; next }
	$0 == end { skip = 0 }
	!skip { print }
' README.md >"$out/README.md.new"
mv "$out/README.md.new" README.md
echo "README.md: study tables of $# models updated" >&2
