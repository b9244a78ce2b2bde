#!/usr/bin/env bash
# Secret-taint checking of every fwtoken verification path under Valgrind memcheck.
#
#   ctgrind/run.sh            both passes (run-time selected backends, then software backends)
#   ctgrind/run.sh detected   only the first pass
#
# Builds the harness (its own workspace, target dir ctgrind/target), writes the
# declassification suppressions from ctgrind/declassify.points with the current source
# line numbers, and runs the harness under memcheck, once with the AES/GHASH backends the
# RustCrypto crates pick from Valgrind's CPUID and once with their software backends
# forced by the documented cfg flags. Exits non-zero when any path shows a secret-dependent
# branch or address, an outcome is wrong, or a negative control is not caught.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ct=$root/ctgrind

if ! command -v valgrind >/dev/null 2>&1; then
    echo "ctgrind: valgrind is not installed (apt-get install -y valgrind)" >&2
    exit 1
fi
case "$(uname -m)" in
    x86_64) ;;
    *) echo "ctgrind: the client-request shim is written for x86_64 only" >&2; exit 1 ;;
esac
echo "ctgrind: $(valgrind --version), $(rustc --version)"

# The one line of $1 that contains the text $2, as a suppression frame `src:*NAME:LINE`.
# `ANCHOR>>TEXT` names the first line containing TEXT after the one line containing ANCHOR
# (for a line that is not unique in its file, such as the same test in two functions).
resolve_line() {
    local file=$1 text=$2 hits anchor=""
    if [ ! -f "$file" ]; then
        echo "ctgrind: declassification point: no file $file" >&2
        return 1
    fi
    case "$text" in *'>>'*) anchor=${text%%>>*}; text=${text#*>>} ;; esac
    if [ -n "$anchor" ]; then
        hits=$(grep -nF -- "$anchor" "$file" | cut -d: -f1 || true)
        if [ "$(printf '%s\n' "$hits" | grep -c .)" -ne 1 ]; then
            echo "ctgrind: declassification point: anchor \"$anchor\" is not exactly one line of $file;" >&2
            echo "         the code changed: review the point in ctgrind/declassify.points" >&2
            return 1
        fi
        hits=$(awk -v from="$hits" -v t="$text" 'NR > from && index($0, t) { print NR; exit }' "$file")
    else
        hits=$(grep -nF -- "$text" "$file" | cut -d: -f1 || true)
    fi
    if [ "$(printf '%s\n' "$hits" | grep -c .)" -ne 1 ]; then
        echo "ctgrind: declassification point: \"$text\" is not exactly one line of $file;" >&2
        echo "         the code changed: review the point in ctgrind/declassify.points" >&2
        return 1
    fi
    printf 'src:*%s:%s\n' "$(basename "$file")" "$hits"
}

# The source directory of dependency $1 (from cargo metadata).
dep_dir() {
    local found
    found=$(cargo metadata --manifest-path "$ct/Cargo.toml" --format-version 1 2>/dev/null |
        grep -o "\"manifest_path\":\"[^\"]*/$1-[0-9][^\"/]*/Cargo.toml\"" | sort -u)
    if [ "$(printf '%s\n' "$found" | grep -c .)" -ne 1 ]; then
        echo "ctgrind: dependency $1: expected one version in the harness's lock file" >&2
        return 1
    fi
    found=${found#\"manifest_path\":\"}
    dirname "${found%\"}"
}

# Writes the suppressions for ctgrind/declassify.points to $1; with $2 = verdicts, only
# the points that are not about an authenticated plaintext.
write_suppressions() {
    local out=$1 only=${2:-all} line name rest kinds frames frame spec file text kind dep
    local -a specs kind_list
    : > "$out"
    while IFS= read -r line; do
        case "$line" in '' | '#'*) continue ;; esac
        name=${line%% | *}
        case "$only:$name" in verdicts:*-plaintext-*) continue ;; esac
        rest=${line#* | }
        kinds=${rest%% | *}
        frames=${rest#* | }
        specs=()
        while [ -n "$frames" ]; do
            frame=${frames%% ; *}
            if [ "$frame" = "$frames" ]; then frames=""; else frames=${frames#* ; }; fi
            case "$frame" in
                '...' | fun:*) specs+=("$frame") ;;
                at:dep:*)
                    spec=${frame#at:dep:}
                    dep=${spec%%/*}
                    file=$(dep_dir "$dep") || return 1
                    spec=${spec#*/}
                    file=$file/${spec%%:*}
                    text=${spec#*:}
                    spec=$(resolve_line "$file" "$text") || return 1
                    specs+=("$spec")
                    ;;
                at:*)
                    spec=${frame#at:}
                    file=$root/${spec%%:*}
                    text=${spec#*:}
                    spec=$(resolve_line "$file" "$text") || return 1
                    specs+=("$spec")
                    ;;
                *) echo "ctgrind: bad frame \"$frame\" in point $name" >&2; return 1 ;;
            esac
        done
        kind_list=()
        case ",$kinds," in *,Cond,*) kind_list+=(Cond) ;; esac
        case ",$kinds," in *,Value,*) kind_list+=(Value1 Value2 Value4 Value8 Value16 Value32) ;; esac
        for kind in "${kind_list[@]}"; do
            {
                echo "{"
                echo "   declassify:$name"
                echo "   Memcheck:$kind"
                printf '   %s\n' "${specs[@]}"
                echo "}"
            } >> "$out"
        done
        [ "$only" = verdicts ] || echo "ctgrind: declassification point $name: ${specs[*]}"
    done < "$ct/declassify.points"
}

# The error reports of memcheck log $1, one blank-line-separated block each, without the
# "==pid==" prefixes and without the frames below the harness's main.
error_blocks() {
    sed -n 's/^==[0-9]*== \{0,1\}//p' "$1" |
        awk '/^(Conditional jump|Use of uninitialised)/ { on = 1 }
             on && /^$/ { on = 0; print ""; next }
             on && !/call_once<fn\(\) -> std::process::ExitCode|__rust_begin_short_backtrace|lang_start|catch_unwind|do_call|\(in \/|rt.rs/ { print }'
}

# What the CI log shows of a memcheck run: the declassification points used, the first
# report of each negative control, the totals.
summarize() {
    local vlog=$1
    echo "ctgrind: declassification points used (times):"
    grep 'used_suppression:' "$vlog" | sed 's/.*used_suppression: *\([0-9]*\) declassify:\([^ ]*\).*/\2 \1/' |
        awk '{ n[$1] += $2 } END { for (k in n) printf "          %-34s %d\n", k, n[k] }' | sort
    echo "ctgrind: memcheck's first report of each negative control:"
    error_blocks "$vlog" | awk -v RS= '/leaky_eq/ && !a++ { print; print "" }
        /^Use of uninitialised/ && /control</ && !/leaky_eq/ && !b++ { print; print "" }' |
        sed 's/^/          /' | cut -c1-160
    grep 'ERROR SUMMARY' "$vlog" | tail -n 1 | sed 's/^==[0-9]*== /ctgrind: memcheck /'
}

# memcheck TARGET_DIR SUPPRESSIONS LABEL [HARNESS ARGS]: one run of the harness.
memcheck() {
    local target=$1 supp=$2 label=$3 vlog unused status=0
    shift 3
    vlog=$target/memcheck${1:+$1}.log
    echo
    echo "ctgrind: --- memcheck: $label"
    valgrind --tool=memcheck --error-limit=no --num-callers=40 --read-inline-info=yes \
        --suppressions="$supp" --show-error-list=yes --log-file="$vlog" \
        "$target/${CARGO_BUILD_TARGET:+$CARGO_BUILD_TARGET/}release/fwtoken-ctgrind" "$@" || status=$?
    summarize "$vlog"
    unused=$(comm -23 <(grep -o 'declassify:[^ ]*' "$supp" | sort -u) \
        <(grep -o 'used_suppression: *[0-9]* declassify:[^ ]*' "$vlog" | grep -o 'declassify:.*' | sort -u) |
        sed 's/declassify://' | tr '\n' ' ')
    [ -z "$unused" ] || echo "ctgrind: note: declassification points not used in this run: $unused"
    if [ "$status" -ne 0 ]; then
        echo "ctgrind: memcheck's reports outside the negative controls:"
        error_blocks "$vlog" | awk -v RS= '!/leaky_eq|control</' | head -n 400
        echo "ctgrind: FAILED (exit $status); memcheck's full log: $vlog"
        return 1
    fi
}

# run LABEL TARGET_DIR RUSTFLAGS
run_pass() {
    local label=$1 target=$2 flags=$3 supp ok=1
    echo
    echo "ctgrind: ==== pass: $label ===="
    RUSTFLAGS="$flags" cargo build --release --quiet \
        --manifest-path "$ct/Cargo.toml" --target-dir "$target" || return 1
    supp=$target/declassify.supp
    write_suppressions "$supp" || return 1
    write_suppressions "$target/verdicts.supp" verdicts || return 1
    memcheck "$target" "$supp" "all cases, every declassification point" || ok=0
    memcheck "$target" "$target/verdicts.supp" \
        "the refusals again, with the MAC verdicts and the duplicate check as the only declassification points" \
        --refusals-only || ok=0
    if [ "$ok" -ne 1 ]; then
        echo "ctgrind: pass \"$label\" FAILED"
        return 1
    fi
    echo "ctgrind: pass \"$label\" passed"
}

# The harness's lock file follows the library's: when fwtoken's dependencies changed since
# it was written, start again from the workspace's lock (same versions as the library).
if ! cargo metadata --locked --format-version 1 --manifest-path "$ct/Cargo.toml" >/dev/null 2>&1; then
    echo "ctgrind: ctgrind/Cargo.lock is out of date with fwtoken's dependencies: refreshed from Cargo.lock (commit it)"
    cp "$root/Cargo.lock" "$ct/Cargo.lock"
fi

failed=0
run_pass "backends chosen at run time (Valgrind's CPUID: AES-NI, PCLMULQDQ, soft SHA-256)" \
    "$ct/target" "" || failed=1
if [ "${1:-all}" != detected ]; then
    run_pass "software backends forced (--cfg aes_backend=\"soft\" --cfg polyval_backend=\"soft\")" \
        "$ct/target/soft" '--cfg aes_backend="soft" --cfg polyval_backend="soft"' || failed=1
fi
if [ "$failed" -ne 0 ]; then
    echo "ctgrind: FAILED"
    exit 1
fi
echo "ctgrind: every pass passed"
