#!/usr/bin/env bash
# libFuzzer targets for the message contract (docs/fuzzing.md).
#
#   scripts/fuzz.sh build              build every target into .build-fuzz/ (not .build/)
#   scripts/fuzz.sh run [SECONDS]      build, then run each target for SECONDS (default 60)
#                                      from its corpus; exit 1 on a crash, sanitizer report,
#                                      failed property or input slower than 1 s
#   scripts/fuzz.sh run SECONDS json   one target (json, decode, encode)
#
# Each target is the Contract module's sources plus Fuzz/Common.swift and Fuzz/<Target>.swift
# compiled as one module with `swiftc -sanitize=fuzzer,address` (libFuzzer + AddressSanitizer),
# so the targets reach the module's internals (the streaming JSON parser). The corpus of a
# target starts from Config/examples and Tests/Fixtures/bad (seeds under .build-fuzz/seed-*,
# regenerated every run) and grows in .build-fuzz/corpus-<target> across runs. A crash leaves
# its input as .build-fuzz/artifacts/<target>/crash-* (or timeout-*, oom-*).
#
# Variables: SWIFTC (swiftc), FUZZ_JOBS (1: child processes per target, libFuzzer -fork=N),
# FUZZ_FLAGS (extra libFuzzer flags), FUZZ_DIR (.build-fuzz), FUZZ_PARALLEL (0; 1: the
# targets run side by side, as `make test`'s smoke run does).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SWIFTC=${SWIFTC:-swiftc}
OUT=${FUZZ_DIR:-.build-fuzz}
TARGETS=(json decode encode)
FILE_json=JSON.swift
FILE_decode=Decode.swift
FILE_encode=Encode.swift

# Builds the given targets side by side (the whole-module build of each is one process).
build_all() {
    local t pids=() failed=0
    for t in "$@"; do build_one "$t" & pids+=($!); done
    for t in "${pids[@]}"; do wait "$t" || failed=1; done
    return $failed
}

build_one() {
    local target=$1 file_var="FILE_$1"
    local sources=(Sources/Contract/*.swift Fuzz/Common.swift "Fuzz/${!file_var}")
    local binary="$OUT/fuzz-$target"
    local command=("$SWIFTC" -sanitize=fuzzer,address -parse-as-library -use-ld=lld -O -wmo -swift-version 6
        -enable-upcoming-feature ExistentialAny -enable-upcoming-feature InternalImportsByDefault
        -module-name ContractFuzz -module-cache-path "$OUT/module-cache" "${sources[@]}")
    # Rebuild only when a source is newer than the binary or the command changed.
    if [[ -x $binary ]] && [[ $(cat "$binary.command" 2>/dev/null) == "${command[*]}" ]] \
        && [[ -z $(find "${sources[@]}" -newer "$binary" 2>/dev/null) ]]; then
        return 0
    fi
    echo "fuzz.sh: building $binary"
    "${command[@]}" -o "$binary.tmp" 2> >(grep -v "Cannot export local symbol" >&2)
    mv "$binary.tmp" "$binary"
    echo "${command[*]}" >"$binary.command"
}

# One seed per example and bad fixture. The decode and encode targets read the inbound type
# and sender kind from the first byte (Fuzz/Common.swift: type index + 13 x sender-kind index;
# bit 7: the decoder that defers list entries): each file gets the byte of the type and sender
# it is sent as (its name, or Tests/Fixtures/bad/index.json), a list also with bit 7 set;
# outbound examples are sent as a municipal list. The json target gets the files as they are.
seed() {
    local target=$1
    local dir="$OUT/seed-$target"
    rm -rf "$dir"; mkdir -p "$dir"
    python3 - "$target" "$dir" Config/examples/*.json Tests/Fixtures/bad/*.json <<'PY'
import json, os, sys
target, out, files = sys.argv[1], sys.argv[2], sys.argv[3:]
inbound = ["municipal-list", "clinic-list", "contact-status", "referral", "consent-update", "assessment",
           "municipal-position", "meeting-outcome", "transition-proposal", "joint-plan", "knowledge-handover",
           "patient-choice", "treatment-started"]
kinds = ["municipality", "clinic", "journal"]
allowed = {"municipal-list": "m", "municipal-position": "m", "clinic-list": "c", "assessment": "c",
           "transition-proposal": "c", "contact-status": "j", "referral": "mcj", "treatment-started": "cj"}
bad = {f["file"]: f for f in json.load(open("Tests/Fixtures/bad/index.json"))["fixtures"]}
def prefix(type_, kind):
    ks = [k for k in kinds if k[0] in allowed.get(type_, "mc")]
    k = ks.index(kind) if kind in ks else 0
    b = inbound.index(type_) + 13 * k
    return [b, b | 0x80] if type_ in inbound[:3] else [b]
for n, name in enumerate(files):
    data = open(name, "rb").read()
    base = os.path.basename(name)
    if target == "json":
        bytes_ = [None]
    elif base in bad:
        f = bad[base]
        t = f["properties"].get("type")
        bytes_ = prefix(t if t in inbound else "municipal-list", f["exchange"].split(".")[2])
    else:
        t = base.split(".")[0]
        try:
            body = json.loads(data)
        except ValueError:
            body = {}
        ks = [k for k in kinds if k[0] in allowed.get(t, "mc")]
        kind = next((k for k in ("municipality", "clinic") if k in ks and k in body), "journal")
        bytes_ = prefix(t, kind) if t in inbound else [0]
    for b in bytes_:
        with open(os.path.join(out, f"{n}-{base}" + ("" if b is None else f"-{b:02x}")), "wb") as f:
            f.write((b"" if b is None else bytes([b])) + data)
PY
}

run_one() {
    local target=$1 seconds=$2
    local corpus="$OUT/corpus-$target" artifacts="$OUT/artifacts/$target/"
    mkdir -p "$corpus" "$artifacts" "$OUT/logs" "$OUT/stalls"
    seed "$target"
    echo "fuzz.sh: running fuzz-$target for ${seconds}s (${FUZZ_JOBS:-1} job(s))"
    local log
    log="$OUT/logs/fuzz-$target-$(date -u +%Y%m%dT%H%M%SZ).log"
    local status=0
    # Fork mode (-fork): a child process fuzzes while the parent keeps the corpus, so one
    # timeout does not end the run (-ignore_timeouts=1; every timeout input is checked again
    # on its own below). A crash, a sanitizer report or a failed property ends it.
    # -timeout=1: an input slower than 1 s is a failure; -rss_limit_mb: a leak or blow-up is one too.
    # -max_len: a few list entries; the decoder's size limits are tested in ContractTests.
    "$OUT/fuzz-$target" "$corpus" "$OUT/seed-$target" \
        -fork="${FUZZ_JOBS:-1}" -ignore_timeouts=1 -ignore_crashes=0 -ignore_ooms=0 \
        -max_total_time="$seconds" -timeout=1 -rss_limit_mb=2048 -max_len=8192 \
        -artifact_prefix="$artifacts" ${FUZZ_FLAGS:-} >"$log" 2>&1 || status=$?
    # The last fork-mode status line: "#<executions>: cov: ... exec/s: ... oom/timeout/crash: ..."
    local last
    last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1 || true)
    echo "fuzz-$target ${last:-no status line} (log $log)"
    # A timeout under a loaded machine is often a stall of the process, not a slow input:
    # each timeout input is run again alone; only one that is slow again fails the run.
    local t slow=0
    for t in "$artifacts"timeout-*; do
        [[ -e $t ]] || continue
        if "$OUT/fuzz-$target" -timeout=1 -runs=1 "$t" >>"$log" 2>&1 && \
           "$OUT/fuzz-$target" -timeout=1 -runs=1 "$t" >>"$log" 2>&1; then
            echo "fuzz-$target: timeout input $t runs in under 1 s alone (twice): a stall under load, moved to $OUT/stalls/"
            mv "$t" "$OUT/stalls/"
        else
            echo "fuzz-$target: input $t is slower than 1 s on its own" >&2
            slow=1
        fi
    done
    if grep -qE 'ERROR: AddressSanitizer|fuzz property failed|ERROR: libFuzzer: (deadly|out-of-memory|fuzz target)' "$log" \
        || [[ -n $(find "$artifacts" -name 'crash-*' -o -name 'oom-*' -o -name 'leak-*' | head -1) ]] \
        || [[ $slow == 1 ]] || { [[ $status != 0 ]] && ! grep -q 'INFO: exiting: 0' "$log"; }; then
        echo "fuzz.sh: fuzz-$target FAILED (exit $status); log $log, inputs in $artifacts" >&2
        grep -E 'ERROR:|SUMMARY:|fuzz property failed|Test unit written' "$log" | head -20 >&2
        return 1
    fi
}

cmd=${1:-run}
case $cmd in
build)
    mkdir -p "$OUT"
    build_all "${TARGETS[@]}"
    ;;
run)
    seconds=${2:-60}
    selected=("${@:3}")
    [[ ${#selected[@]} -gt 0 ]] || selected=("${TARGETS[@]}")
    mkdir -p "$OUT"
    failed=0
    build_all "${selected[@]}"
    if [[ ${FUZZ_PARALLEL:-0} == 1 ]]; then
        pids=()
        for t in "${selected[@]}"; do run_one "$t" "$seconds" & pids+=($!); done
        for p in "${pids[@]}"; do wait "$p" || failed=1; done
    else
        for t in "${selected[@]}"; do run_one "$t" "$seconds" || failed=1; done
    fi
    exit $failed
    ;;
*)
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
