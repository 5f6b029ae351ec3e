#!/usr/bin/env bash
# Static checks of deploy/ that CI does not run (the behaviour is tested by
# tests/tests/e2e/deploy/): bash -n and shellcheck on the scripts, systemd-analyze
# verify and security on the units (ExecStart= pointed at built binaries), kubernetes-validate
# --strict on the manifests. A tool that is not installed is reported and skipped; install them
# with `apt-get install shellcheck` and `pip install kubernetes-validate` (in a venv: set
# KUBERNETES_VALIDATE to its binary). Exit 0 when every check that ran passed.
#
# Usage: deploy/check.sh [BINARY_DIR]   (default target/ci, then target/release)
set -euo pipefail
cd "$(dirname "$0")/.."

failed=0
skipped=()
check() {
    local name=$1
    shift
    if "$@"; then
        printf 'ok      %s\n' "${name}"
    else
        printf 'FAILED  %s\n' "${name}"
        failed=1
    fi
}

# Run by check (shellcheck cannot see that): the units are in the temporary directory ${units}.
# shellcheck disable=SC2317
verify() {
    # It exits 0 on an unknown key or a bad value ("..., ignoring."): any output is a failure.
    local out status=0
    out=$(cd "${units}" && systemd-analyze verify "$@" 2>&1) || status=$?
    [[ -z ${out} ]] || printf '%s\n' "${out}"
    [[ ${status} -eq 0 && -z ${out} ]]
}
# --threshold: fail above an exposure of 2.0 (both units are at 1.2).
# shellcheck disable=SC2317
security() {
    (cd "${units}" && systemd-analyze security --offline=true --threshold=20 "$1" | tail -n 1)
}

scripts=(deploy/nightly-train.sh deploy/check.sh)
for s in "${scripts[@]}"; do
    check "bash -n ${s}" bash -n "${s}"
done
if command -v shellcheck >/dev/null 2>&1; then
    check "shellcheck ${scripts[*]}" shellcheck "${scripts[@]}"
else
    skipped+=(shellcheck)
fi

bin_dir=${1:-}
if [[ -z ${bin_dir} ]]; then
    for d in target/ci target/release; do
        if [[ -x ${d}/contactscore-server ]]; then
            bin_dir=${d}
            break
        fi
    done
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
    skipped+=(systemd-analyze)
elif [[ -z ${bin_dir} || ! -x ${bin_dir}/contactscore-server ]]; then
    skipped+=("systemd-analyze (no built contactscore-server: cargo build --profile ci)")
else
    units=$(mktemp -d)
    trap 'rm -rf -- "${units}"' EXIT
    server=$(cd "${bin_dir}" && pwd)/contactscore-server
    script=${PWD}/deploy/nightly-train.sh
    for f in deploy/systemd/*.service deploy/systemd/*.timer; do
        sed -e "s|/usr/local/bin/contactscore-server|${server}|" \
            -e "s|/usr/local/lib/contactscore/nightly-train.sh|${script}|" \
            "${f}" >"${units}/${f##*/}"
    done
    check "systemd-analyze verify" verify \
        contactscore-server.service contactscore-nightly.service contactscore-nightly.timer
    for u in contactscore-server.service contactscore-nightly.service; do
        check "systemd-analyze security ${u}" security "${u}"
    done
fi

validate=${KUBERNETES_VALIDATE:-kubernetes-validate}
if command -v "${validate}" >/dev/null 2>&1; then
    manifests=()
    for f in deploy/k8s/*.yaml; do
        [[ ${f} == */kustomization.yaml ]] || manifests+=("${f}")
    done
    # The Redis overlay's own resources (its other files are partial patches of the base).
    manifests+=(deploy/k8s-redis/redis.yaml)
    for v in 1.30.0 1.37.0; do
        check "kubernetes-validate --strict (${v})" \
            "${validate}" --strict --quiet -k "${v}" "${manifests[@]}"
    done
else
    skipped+=(kubernetes-validate)
fi

for s in "${skipped[@]}"; do
    printf 'skipped %s: not installed\n' "${s}"
done
exit "${failed}"
