#!/usr/bin/env bash
# contactscore nightly retraining: train a new model version on the day's export with the
# promotion gate (`contactscore-trainer train --promote-if-better`), optionally ask the server to
# reload at once, and exit with a code a scheduler can act on. Needs bash and coreutils only
# (plus flock from util-linux for the run lock, and grpcurl for the optional reload request).
# docs/DEPLOY.md explains how systemd and Kubernetes run it.
#
# Usage: nightly-train.sh            (configured by the environment variables below)
#        nightly-train.sh --help     (prints this header)
#
# Exit codes (the last line printed is a one-line summary: on stdout for 0, on stderr otherwise):
#   0  promoted: the new version is CURRENT; or kept: the gate kept CURRENT, and the new version
#      is published but not promoted (the summary quotes the trainer's reason)
#   1  this script itself failed unexpectedly (a bug; the line before says where)
#   2  configuration: a bad variable, the trainer or its config file missing, the models
#      directory or the admin token file unusable. Nothing was trained
#   3  export missing or incomplete: no export directory, no attempts file, an empty file, a
#      required input or the ready marker missing. Nothing was trained
#   4  training failed: the trainer exited non-zero or was killed (bad rows over the budget, an
#      unreadable file, disk full, out of memory, SIGTERM). CURRENT is unchanged
#   5  result unclear: the trainer exited 0 but did not publish what it said, or CURRENT names
#      neither the new version nor the previous one. Check `contactscore-trainer inspect`
#   6  another run holds the models directory's lock (.nightly-train.lock). Nothing was done
# A failed reload request is not a failure: the server polls CURRENT (reload_interval_ms) anyway;
# the summary says "reload: failed ..." and the exit code stays 0.
#
# Environment (default in brackets):
#   CONTACTSCORE_EXPORT_DIR        the day's export [/srv/contactscore/export]; strftime
#                                  sequences are expanded for CONTACTSCORE_EXPORT_DATE, e.g.
#                                  /srv/export/%Y-%m-%d. It holds attempts*.csv, attempts*.csv.gz
#                                  or attempts*.parquet (all of them are read), and optionally
#                                  contacts, persons and validations (.csv, .csv.gz or .parquet)
#   CONTACTSCORE_EXPORT_DATE       the date for those sequences, as `date -d` reads it [today]
#   CONTACTSCORE_EXPORT_READY_FILE a file the exporter writes last (e.g. _SUCCESS); when set, an
#                                  export without it is incomplete (exit 3) [unset: not checked]
#   CONTACTSCORE_REQUIRED_INPUTS   which of contacts, persons, validations must be present
#                                  [contacts persons]; set it empty to require attempts only
#   CONTACTSCORE_MODELS_DIR        the trainer's registry, served by the server
#                                  [/var/lib/contactscore/models]
#   CONTACTSCORE_TRAINER           the trainer binary, a path or a name on PATH
#                                  [contactscore-trainer]
#   CONTACTSCORE_TRAINER_CONFIG    trainer.toml passed as --config [unset: the defaults]
#   CONTACTSCORE_MAX_BAD_ROWS      --max-bad-rows: bad rows skipped and counted before the run
#                                  fails [0: the first bad row fails it]
#   CONTACTSCORE_TRAIN_ARGS        more train flags, split on whitespace (no quoting), e.g.
#                                  "--family gbdt --threads 2" [none]. Flags this script sets
#                                  itself are refused (exit 2)
#   CONTACTSCORE_KEEP_VERSIONS     after a successful run, delete all but the newest N versions
#                                  (the new one included), never CURRENT [0: keep every version]
#   CONTACTSCORE_SERVER_ADDR       host:port of the server for a ReloadModel request once a version
#                                  is promoted [unset: no request; the server's poll finds it]
#   CONTACTSCORE_ADMIN_TOKEN_FILE  file holding the server's admin token for that request
#                                  [unset: no authorization header]
#   CONTACTSCORE_GRPCURL           grpcurl binary [grpcurl]; when missing the request is skipped
#   CONTACTSCORE_GRPCURL_ARGS      its connection flags, split on whitespace [-plaintext]; with TLS
#                                  e.g. "-cacert /etc/contactscore/ca.pem"
#   CONTACTSCORE_RELOAD_TIMEOUT    seconds the reload request may take (the server answers once the
#                                  new version is loaded: ~8 s per million persons) [900]
#
# Never printed: the admin token, and the values of the trainer's bad-row errors (which may be phone
# numbers, e-mail addresses or person ids: the trainer's stderr passes through a filter).

set -euo pipefail
umask 077
export LC_ALL=C

readonly ME=nightly-train
readonly VERSION_RE='^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$'
# Columns whose values the trainer shows unmasked in its own bad-row examples
# (trainer/src/ingest/report.rs, SHOWN_COLUMNS): no personal data.
readonly SHOWN_COLUMNS='channel|outcome|attempted_at|duration_seconds|timezone|channels|added_at|validation_status|validated_at|line_type|carrier|ported'

started=$SECONDS
trap 'printf "%s: failed (exit 1, bug): unexpected failure at line %s\n" "$ME" "$LINENO" >&2; exit 1' ERR

warn() { printf '%s: warning: %s\n' "$ME" "$*" >&2; }

# fail CODE KIND MESSAGE: the summary line of a failed run, then exit CODE.
fail() {
    local code=$1 kind=$2
    shift 2
    trap - ERR
    printf '%s: failed (exit %d, %s): %s\n' "$ME" "$code" "$kind" "$*" >&2
    exit "$code"
}

usage() {
    local line first=1
    while IFS= read -r line; do
        if ((first)); then
            first=0
            continue
        fi
        [[ $line == '#'* ]] || break
        line=${line#'#'}
        printf '%s\n' "${line# }"
    done <"${BASH_SOURCE[0]}"
}

# Trailing (and leading) whitespace off $1.
trim() {
    local s=$1
    s=${s#"${s%%[![:space:]]*}"}
    s=${s%"${s##*[![:space:]]}"}
    printf '%s' "$s"
}

# The version CURRENT names, or nothing.
current_version() {
    local v=''
    if [[ -f $models_dir/CURRENT ]]; then
        v=$(<"$models_dir/CURRENT")
    fi
    trim "$v"
}

# stdin to stderr (and to the file $1), one line at a time, with personal data taken out: the
# quoted value of a bad-row error unless its column is one the trainer shows itself, and anything
# that looks like an E.164 number or an e-mail address.
redact() {
    local copy=$1 line lower match
    local value_re='\(value "([^"\\]|\\.)*"'
    local number_re='\+[0-9]{7,15}'
    local email_re='[[:alnum:]._%+-]+@[[:alnum:].-]+\.[[:alpha:]]{2,}'
    local column_re="column \"(${SHOWN_COLUMNS})\""
    while IFS= read -r line || [[ -n $line ]]; do
        lower=${line,,}
        if ! [[ $lower =~ $column_re ]]; then
            while [[ $line =~ $value_re ]]; do
                match=${BASH_REMATCH[0]}
                line=${line/"$match"/"(value <redacted>"}
            done
        fi
        while [[ $line =~ $number_re ]]; do
            match=${BASH_REMATCH[0]}
            line=${line/"$match"/"<number>"}
        done
        while [[ $line =~ $email_re ]]; do
            match=${BASH_REMATCH[0]}
            line=${line/"$match"/"<email>"}
        done
        printf '%s\n' "$line" >&2
        printf '%s\n' "$line" >>"$copy"
    done
}

case "${1-}" in
    '') ;;
    -h | --help)
        usage
        exit 0
        ;;
    *) fail 2 config "unexpected argument \"$1\": configure with CONTACTSCORE_* variables (--help)" ;;
esac

# ---- configuration (exit 2) --------------------------------------------------------------------

export_spec=${CONTACTSCORE_EXPORT_DIR:-/srv/contactscore/export}
export_date=${CONTACTSCORE_EXPORT_DATE:-today}
ready_file=${CONTACTSCORE_EXPORT_READY_FILE:-}
required_inputs=${CONTACTSCORE_REQUIRED_INPUTS-contacts persons}
models_dir=${CONTACTSCORE_MODELS_DIR:-/var/lib/contactscore/models}
trainer=${CONTACTSCORE_TRAINER:-contactscore-trainer}
trainer_config=${CONTACTSCORE_TRAINER_CONFIG:-}
max_bad_rows=${CONTACTSCORE_MAX_BAD_ROWS:-0}
train_args=${CONTACTSCORE_TRAIN_ARGS:-}
keep_versions=${CONTACTSCORE_KEEP_VERSIONS:-0}
server_addr=${CONTACTSCORE_SERVER_ADDR:-}
token_file=${CONTACTSCORE_ADMIN_TOKEN_FILE:-}
grpcurl=${CONTACTSCORE_GRPCURL:-grpcurl}
grpcurl_args=${CONTACTSCORE_GRPCURL_ARGS--plaintext}
reload_timeout=${CONTACTSCORE_RELOAD_TIMEOUT:-900}

for pair in "CONTACTSCORE_MAX_BAD_ROWS=$max_bad_rows" "CONTACTSCORE_KEEP_VERSIONS=$keep_versions" \
    "CONTACTSCORE_RELOAD_TIMEOUT=$reload_timeout"; do
    [[ ${pair#*=} =~ ^[0-9]+$ ]] ||
        fail 2 config "${pair%%=*} must be a whole number, not \"${pair#*=}\""
done
read -r -a required <<<"$required_inputs" || true
for kind in "${required[@]}"; do
    case "$kind" in
        contacts | persons | validations) ;;
        *) fail 2 config "CONTACTSCORE_REQUIRED_INPUTS: \"$kind\" is not one of contacts, persons, validations" ;;
    esac
done

if [[ $trainer == */* ]]; then
    trainer_path=$trainer
else
    trainer_path=$(command -v -- "$trainer" || true)
fi
[[ -n $trainer_path && -f $trainer_path && -x $trainer_path ]] ||
    fail 2 config "the trainer \"$trainer\" is not an executable file (CONTACTSCORE_TRAINER)"
if [[ -n $trainer_config && ! -r $trainer_config ]]; then
    fail 2 config "the trainer config $trainer_config cannot be read (CONTACTSCORE_TRAINER_CONFIG)"
fi

read -r -a extra_args <<<"$train_args" || true
for arg in "${extra_args[@]}"; do
    case "${arg%%=*}" in
        --models-dir | --attempts | --contacts | --persons | --validations | --config | \
            --max-bad-rows | --promote-if-better | --no-promote)
            fail 2 config "CONTACTSCORE_TRAIN_ARGS: $arg is set by this script (see --help)"
            ;;
    esac
done

if [[ -e $models_dir && ! -d $models_dir ]]; then
    fail 2 config "the models directory $models_dir is not a directory (CONTACTSCORE_MODELS_DIR)"
fi
if [[ ! -d $models_dir ]]; then
    # umask 077: created 0700, as the trainer would.
    mkdir -p -- "$models_dir" 2>/dev/null ||
        fail 2 config "cannot create the models directory $models_dir (CONTACTSCORE_MODELS_DIR)"
fi
[[ -w $models_dir ]] ||
    fail 2 config "the models directory $models_dir is not writable by uid $(id -u) (CONTACTSCORE_MODELS_DIR)"

token=''
if [[ -n $token_file ]]; then
    [[ -r $token_file ]] ||
        fail 2 config "the admin token file $token_file cannot be read (CONTACTSCORE_ADMIN_TOKEN_FILE)"
    token=$(trim "$(<"$token_file")")
    [[ -n $token ]] ||
        fail 2 config "the admin token file $token_file is empty (CONTACTSCORE_ADMIN_TOKEN_FILE)"
    [[ -n $server_addr ]] ||
        warn "CONTACTSCORE_ADMIN_TOKEN_FILE is set but CONTACTSCORE_SERVER_ADDR is not: no reload request"
fi

if [[ $export_spec == *%* ]]; then
    export_dir=$(date -d "$export_date" "+$export_spec" 2>/dev/null) ||
        fail 2 config "CONTACTSCORE_EXPORT_DATE \"$export_date\" is not a date date(1) reads"
else
    export_dir=$export_spec
fi

# ---- the export (exit 3) -----------------------------------------------------------------------

[[ -d $export_dir ]] ||
    fail 3 export "the export directory $export_dir does not exist (CONTACTSCORE_EXPORT_DIR)"
if [[ -n $ready_file && ! -e $export_dir/$ready_file ]]; then
    fail 3 export "$export_dir has no $ready_file yet: the export is not complete (CONTACTSCORE_EXPORT_READY_FILE)"
fi

# usable FILE: readable and not empty, or exit 3.
usable() {
    [[ -r $1 ]] || fail 3 export "$1 cannot be read"
    [[ -s $1 ]] || fail 3 export "$1 is empty"
}

shopt -s nullglob
attempts=("$export_dir"/attempts*.csv "$export_dir"/attempts*.csv.gz "$export_dir"/attempts*.parquet)
((${#attempts[@]} > 0)) ||
    fail 3 export "no attempts file in $export_dir (attempts*.csv, attempts*.csv.gz or attempts*.parquet)"
inputs=()
for f in "${attempts[@]}"; do
    usable "$f"
    inputs+=(--attempts "$f")
done
for kind in contacts persons validations; do
    found=("$export_dir/$kind".csv "$export_dir/$kind".csv.gz "$export_dir/$kind".parquet)
    present=()
    for f in "${found[@]}"; do
        if [[ -e $f ]]; then
            present+=("$f")
        fi
    done
    if ((${#present[@]} > 1)); then
        fail 3 export "$export_dir has several $kind files (${present[*]##*/}): keep one"
    elif ((${#present[@]} == 1)); then
        usable "${present[0]}"
        inputs+=("--$kind" "${present[0]}")
    elif [[ " ${required[*]} " == *" $kind "* ]]; then
        fail 3 export "$export_dir has no $kind file ($kind.csv, .csv.gz or .parquet; CONTACTSCORE_REQUIRED_INPUTS)"
    fi
done
shopt -u nullglob

# ---- one run at a time (exit 6) ----------------------------------------------------------------

if command -v flock >/dev/null 2>&1; then
    exec 9>>"$models_dir/.nightly-train.lock"
    flock -n 9 || fail 6 locked "another run holds $models_dir/.nightly-train.lock"
else
    warn "flock not found: no protection against two runs at once"
fi

# ---- training (exit 4 / 5) ---------------------------------------------------------------------

previous=$(current_version)
args=(train --models-dir "$models_dir" --promote-if-better --max-bad-rows "$max_bad_rows")
args+=("${inputs[@]}")
[[ -z $trainer_config ]] || args+=(--config "$trainer_config")
args+=("${extra_args[@]}")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nightly-train.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
mkfifo "$tmp/stderr.fifo"
: >"$tmp/stderr"
redact "$tmp/stderr" <"$tmp/stderr.fifo" &
redact_pid=$!
printf '%s: training on %s (%d attempts file(s)) into %s; CURRENT is %s\n' "$ME" "$export_dir" \
    "${#attempts[@]}" "$models_dir" "${previous:-none}" >&2
"$trainer_path" "${args[@]}" >"$tmp/stdout" 2>"$tmp/stderr.fifo" </dev/null &
trainer_pid=$!
# systemd signals the whole unit; a container's PID 1 gets the signal alone: pass it on.
interrupted=''
trap 'interrupted=TERM; kill -TERM "$trainer_pid" 2>/dev/null || true' TERM
trap 'interrupted=INT; kill -INT "$trainer_pid" 2>/dev/null || true' INT
rc=0
wait "$trainer_pid" || rc=$?
if [[ -n $interrupted ]]; then
    rc=0
    wait "$trainer_pid" || rc=$?
fi
trap - TERM INT
wait "$redact_pid" || true
# The trainer's stdout (version id, one metrics line per family, the gate's line) is safe to show.
cat -- "$tmp/stdout"

if ((rc != 0)); then
    now=$(current_version)
    if [[ -n $interrupted ]]; then
        why="interrupted by SIG$interrupted"
    elif ((rc > 128)); then
        sig=$(kill -l "$((rc - 128))" 2>/dev/null || echo "$((rc - 128))")
        why="the trainer was killed by SIG$sig"
        [[ $sig != KILL ]] || why+=" (out of memory? see the kernel log)"
    else
        last=''
        while IFS= read -r line; do
            [[ $line != error:* ]] || last=${line#error: }
        done <"$tmp/stderr"
        # The trainer's own exit codes (README, "Exit codes") say which kind of failure it was.
        case $rc in
        2) kind='configuration' ;;
        3) kind='bad input data' ;;
        4) kind='a file could not be read or written' ;;
        5) kind='a stored version is unreadable' ;;
        *) kind='failed' ;;
        esac
        why="the trainer exited $rc ($kind): ${last:-no error message}"
    fi
    fail 4 training "$why; CURRENT is still ${now:-none}"
fi

new=''
gate=''
{ IFS= read -r new || true; } <"$tmp/stdout"
new=$(trim "$new")
while IFS= read -r line; do
    [[ $line != 'champion '* ]] || gate=$line
done <"$tmp/stdout"
[[ $new =~ $VERSION_RE ]] ||
    fail 5 unclear "the trainer exited 0 but its first line \"${new:0:64}\" is not a version id"
[[ -f $models_dir/$new/manifest.json ]] ||
    fail 5 unclear "the trainer reported $new but $models_dir/$new/manifest.json does not exist"
now=$(current_version)
if [[ -n $now && $now == "$new" ]]; then
    result=promoted
elif [[ -n $now && $now == "$previous" ]]; then
    result=kept
else
    fail 5 unclear "CURRENT names \"${now:-nothing}\": neither the new version $new nor the previous ${previous:-none} (another promote at the same time?)"
fi

# ---- housekeeping and the reload request (never change the exit code) --------------------------

pruned=''
if ((keep_versions > 0)); then
    # The version just trained always stays and counts as the newest; of the others, the newest
    # keep_versions - 1 stay, and CURRENT. Version ids sort by creation time to the second only
    # (two versions made in the same second sort by their hash), hence $new set apart.
    others=()
    for d in "$models_dir"/*/; do
        v=${d%/}
        v=${v##*/}
        if [[ $v != "$new" && $v =~ $VERSION_RE && -f $models_dir/$v/manifest.json ]]; then
            others+=("$v")
        fi
    done
    removed=0
    for ((i = 0; i < ${#others[@]} - (keep_versions - 1); i++)); do
        v=${others[i]}
        [[ $v != "$now" ]] || continue
        if rm -rf -- "${models_dir:?}/$v"; then
            removed=$((removed + 1))
        else
            warn "could not delete the old version $models_dir/$v"
        fi
    done
    pruned="; deleted $removed old version(s), keeping the newest $keep_versions and CURRENT"
fi

reload='not requested (the server polls CURRENT)'
if [[ $result == promoted && -n $server_addr ]]; then
    grpcurl_path=$(command -v -- "$grpcurl" || true)
    if [[ -z $grpcurl_path ]]; then
        reload="skipped: $grpcurl not found (the server polls CURRENT)"
        warn "reload $reload"
    else
        read -r -a gargs <<<"$grpcurl_args" || true
        cmd=("$grpcurl_path" "${gargs[@]}" -max-time "$reload_timeout")
        if [[ -n $token ]]; then
            # The token reaches grpcurl through its environment, never its command line (ps).
            # shellcheck disable=SC2016 # grpcurl itself expands ${...} (-expand-headers)
            cmd+=(-expand-headers -H 'authorization: Bearer ${CONTACTSCORE_NIGHTLY_AUTH}')
        fi
        cmd+=(-d '{}' "$server_addr" contactscore.v1.ContactScoring/ReloadModel)
        grc=0
        out=$(CONTACTSCORE_NIGHTLY_AUTH=$token "${cmd[@]}" 2>&1 </dev/null) || grc=$?
        [[ -z $token ]] || out=${out//"$token"/<token>}
        served=''
        reload_error=''
        while IFS= read -r line; do
            if [[ $line =~ ^[[:space:]]*\"version\":[[:space:]]*\"([^\"]*)\" ]]; then
                served=${BASH_REMATCH[1]}
            elif [[ $line =~ ^[[:space:]]*\"lastReloadError\":[[:space:]]*\"(.*)\",?$ ]]; then
                reload_error=${BASH_REMATCH[1]}
            fi
        done <<<"$out"
        if ((grc != 0)); then
            # grpcurl's error on one line: "ERROR: Code: PermissionDenied Message: ..."
            flat=$(trim "${out//[[:space:]]/ }")
            while [[ $flat == *'  '* ]]; do
                flat=${flat//'  '/' '}
            done
            reload="failed: ${grpcurl##*/} exited $grc: ${flat:0:200} (the server polls CURRENT)"
        elif [[ $served == "$new" ]]; then
            reload="ok, the server serves $new"
        else
            reload="failed: the server serves ${served:-no version}${reload_error:+ (last reload error: ${reload_error:0:200})}"
        fi
        [[ $reload == ok* ]] || warn "reload $reload"
    fi
fi

elapsed=$((SECONDS - started))
trap - ERR
if [[ $result == promoted ]]; then
    printf '%s: promoted %s (previous: %s); %s; reload: %s%s; %ds\n' "$ME" "$new" \
        "${previous:-none}" "${gate:-nothing was CURRENT}" "$reload" "$pruned" "$elapsed"
else
    printf '%s: kept %s; published %s, not promoted: %s%s; %ds\n' "$ME" "$now" "$new" \
        "${gate:-the trainer gave no reason}" "$pruned" "$elapsed"
fi
