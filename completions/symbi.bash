# bash completion for symbi, generated from the command tree by scripts/gen_docs.py: do not edit.
# Install: source it from ~/.bashrc, or copy it to ~/.local/share/bash-completion/completions/symbi
declare -gA _symbi_cmds=(
  ['symbi']='agent api-key audit completion config cron doctor logs man run store ui usage'
  ['symbi agent']='add list remove show'
  ['symbi audit']='query verify'
  ['symbi config']='show'
  ['symbi cron']='add apply approve cancel daemon deny edit export history import list next pause pending remove reset resume run status test-delivery update validate'
  ['symbi store']='migrate prune'
)
declare -gA _symbi_opts=(
  ['symbi']='--help --version -V -h'
  ['symbi agent']='--help -h'
  ['symbi agent add']='--agentpin-id --capability --command --description --env --format --help --inherit-env --model --replace --shell --system-prompt --workdir -h'
  ['symbi agent list']='--format --help --wide -h'
  ['symbi agent remove']='--force --help -h'
  ['symbi agent show']='--format --help -h'
  ['symbi api-key']='--help --path -h'
  ['symbi audit']='--help -h'
  ['symbi audit query']='--actor --format --help --job --limit --run --since --type --until --wide -h'
  ['symbi audit verify']='--expect-head --format --help -h'
  ['symbi completion']='--help -h'
  ['symbi config']='--help -h'
  ['symbi config show']='--format --help -h'
  ['symbi cron']='--help -h'
  ['symbi cron add']='--all --file --format --help --json --replace --schedule -h'
  ['symbi cron apply']='--dry-run --format --help --prune -h'
  ['symbi cron approve']='--format --help -h'
  ['symbi cron cancel']='--format --help -h'
  ['symbi cron daemon']='--all --drain --foreground --format --help --leave-running --timeout -h'
  ['symbi cron deny']='--format --help --reason -h'
  ['symbi cron edit']='--help --name -h'
  ['symbi cron export']='--format --help --name -h'
  ['symbi cron history']='--format --help --limit --status --utc --wide -h'
  ['symbi cron import']='--crontab --dry-run --format --help --prefix --replace --skip-invalid -h'
  ['symbi cron list']='--agent --format --help --sort --status --utc --wide -h'
  ['symbi cron next']='--count --format --from --help --tz -h'
  ['symbi cron pause']='--format --help -h'
  ['symbi cron pending']='--format --help --utc --wide -h'
  ['symbi cron remove']='--force --format --help --name -h'
  ['symbi cron reset']='--format --help -h'
  ['symbi cron resume']='--format --help -h'
  ['symbi cron run']='--cancel-on-interrupt --format --help --input --timeout --wait -h'
  ['symbi cron status']='--format --help --history --utc --watch --wide -h'
  ['symbi cron test-delivery']='--channel --format --help -h'
  ['symbi cron update']='--cron --format --help --json -h'
  ['symbi cron validate']='--file --format --help -h'
  ['symbi doctor']='--format --help -h'
  ['symbi logs']='--filter --follow --help --level --lines --since --until -f -h -n'
  ['symbi man']='--help --where -h'
  ['symbi run']='--help --input --timeout -h'
  ['symbi store']='--help -h'
  ['symbi store migrate']='--format --help --to -h'
  ['symbi store prune']='--dry-run --format --help -h'
  ['symbi ui']='--format --help --logout-all --open -h'
  ['symbi usage']='--agent --by --format --help --job --model --since --until -h'
)
declare -gA _symbi_valopts=(
  ['symbi agent add']='--agentpin-id --capability --command --description --env --format --model --system-prompt --workdir'
  ['symbi agent list']='--format'
  ['symbi agent show']='--format'
  ['symbi audit query']='--actor --format --job --limit --run --since --type --until'
  ['symbi audit verify']='--expect-head --format'
  ['symbi config show']='--format'
  ['symbi cron add']='--file --format --json --schedule'
  ['symbi cron apply']='--format'
  ['symbi cron approve']='--format'
  ['symbi cron cancel']='--format'
  ['symbi cron daemon']='--format --timeout'
  ['symbi cron deny']='--format --reason'
  ['symbi cron edit']='--name'
  ['symbi cron export']='--format --name'
  ['symbi cron history']='--format --limit --status'
  ['symbi cron import']='--crontab --format --prefix'
  ['symbi cron list']='--agent --format --sort --status'
  ['symbi cron next']='--count --format --from --tz'
  ['symbi cron pause']='--format'
  ['symbi cron pending']='--format'
  ['symbi cron remove']='--format --name'
  ['symbi cron reset']='--format'
  ['symbi cron resume']='--format'
  ['symbi cron run']='--format --input --timeout'
  ['symbi cron status']='--format --history'
  ['symbi cron test-delivery']='--channel --format'
  ['symbi cron update']='--cron --format --json'
  ['symbi cron validate']='--file --format'
  ['symbi doctor']='--format'
  ['symbi logs']='--filter --level --lines --since --until -n'
  ['symbi run']='--input --timeout'
  ['symbi store migrate']='--format --to'
  ['symbi store prune']='--format'
  ['symbi ui']='--format'
  ['symbi usage']='--agent --by --format --job --model --since --until'
)
declare -gA _symbi_choices=(
  ['symbi agent add --format']='table json'
  ['symbi agent list --format']='table json csv'
  ['symbi agent show --format']='table json'
  ['symbi audit query --format']='table json csv'
  ['symbi audit query --type']='CronJobCreated CronJobUpdated CronJobDeleted CronJobPaused CronJobResumed CronJobReset CronJobTriggered CronJobExecuted CronJobFailed CronJobDeadLettered CronJobCompleted AgentRegistered AgentRemoved AgentPinVerificationFailed CronRunPolicyDenied CronRunApprovalRequested CronRunApproved CronRunDenied CronRunApprovalExpired CronRunCancelled CronRunBudgetExceeded StorePruned DashboardSessionStarted DashboardSessionsEnded'
  ['symbi audit verify --format']='table json'
  ['symbi config show --format']='toml json'
  ['symbi cron add --format']='table json'
  ['symbi cron apply --format']='table json'
  ['symbi cron approve --format']='table json'
  ['symbi cron cancel --format']='table json'
  ['symbi cron daemon --format']='table json'
  ['symbi cron deny --format']='table json'
  ['symbi cron export --format']='crontab symbi'
  ['symbi cron history --format']='table json csv'
  ['symbi cron history --status']='queued pending_approval running succeeded failed timed_out denied skipped missed interrupted cancelled budget_exceeded'
  ['symbi cron import --format']='table json'
  ['symbi cron list --format']='table json csv'
  ['symbi cron list --sort']='name next status last'
  ['symbi cron list --status']='active paused completed failed dead_letter'
  ['symbi cron next --format']='table json'
  ['symbi cron pause --format']='table json'
  ['symbi cron pending --format']='table json'
  ['symbi cron remove --format']='table json'
  ['symbi cron reset --format']='table json'
  ['symbi cron resume --format']='table json'
  ['symbi cron run --format']='table json'
  ['symbi cron status --format']='table json'
  ['symbi cron test-delivery --format']='table json'
  ['symbi cron update --format']='table json'
  ['symbi cron validate --format']='table json'
  ['symbi doctor --format']='table json'
  ['symbi logs --level']='debug info warning error'
  ['symbi store migrate --format']='table json'
  ['symbi store prune --format']='table json'
  ['symbi ui --format']='text json'
  ['symbi usage --by']='day job agent model'
  ['symbi usage --format']='table json csv'
)
declare -gA _symbi_paths=(
  ['symbi agent add --workdir']='dir'
  ['symbi cron add --file']='file'
  ['symbi cron apply']='file'
  ['symbi cron import --crontab']='file'
  ['symbi cron validate --file']='file'
)
declare -gA _symbi_dynamic=(
  ['symbi agent remove']='1'
  ['symbi agent show']='1'
  ['symbi audit query']='1'
  ['symbi completion']='1'
  ['symbi cron approve']='1'
  ['symbi cron daemon']='1'
  ['symbi cron deny']='1'
  ['symbi cron edit']='1'
  ['symbi cron export']='1'
  ['symbi cron history']='1'
  ['symbi cron list']='1'
  ['symbi cron next']='1'
  ['symbi cron pause']='1'
  ['symbi cron remove']='1'
  ['symbi cron reset']='1'
  ['symbi cron resume']='1'
  ['symbi cron run']='1'
  ['symbi cron status']='1'
  ['symbi cron test-delivery']='1'
  ['symbi cron update']='1'
  ['symbi run']='1'
  ['symbi usage']='1'
)

_symbi() {
    local cur prev="" cmdpath="symbi" w i skip=0 cword=0
    local -a words=()
    # bash splits words at ':' (COMP_WORDBREAKS): custom:pager arrives as custom, :, pager. Glue them back.
    for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
        w="${COMP_WORDS[i]}"
        if ((i > 0)) && [[ "$w" == :* || "${words[${#words[@]}-1]}" == *: ]]; then
            words[${#words[@]}-1]+="$w"
        else
            words+=("$w")
        fi
        ((i == COMP_CWORD)) && cword=$((${#words[@]} - 1))
    done
    cur="${words[cword]}"
    ((cword > 0)) && prev="${words[cword-1]}"
    COMPREPLY=()
    # Walk the words before the cursor: subcommands extend the path; option values are skipped.
    for ((i = 1; i < cword; i++)); do
        w="${words[i]}"
        if ((skip)); then skip=0; continue; fi
        case "$w" in
            --) break ;;
            -*=*) continue ;;
            -*) [[ " ${_symbi_valopts[$cmdpath]} " == *" $w "* ]] && skip=1; continue ;;
        esac
        [[ " ${_symbi_cmds[$cmdpath]} " == *" $w "* ]] && cmdpath="$cmdpath $w"
    done
    # An option's value: its choices, a path, or ask the program.
    if [[ "$prev" == -* && " ${_symbi_valopts[$cmdpath]} " == *" $prev "* ]]; then
        if [[ -n "${_symbi_choices[$cmdpath $prev]+x}" ]]; then
            COMPREPLY=($(compgen -W "${_symbi_choices[$cmdpath $prev]}" -- "$cur"))
        elif [[ -n "${_symbi_paths[$cmdpath $prev]+x}" ]]; then
            _symbi_path "${_symbi_paths[$cmdpath $prev]}"
        elif [[ -n "${_symbi_dynamic[$cmdpath]+x}" ]]; then
            _symbi_ask
        fi
        _symbi_trim
        return 0
    fi
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "${_symbi_opts[$cmdpath]}" -- "$cur"))
    elif [[ -n "${_symbi_cmds[$cmdpath]+x}" ]]; then
        COMPREPLY=($(compgen -W "${_symbi_cmds[$cmdpath]}" -- "$cur"))
    elif [[ -n "${_symbi_paths[$cmdpath]+x}" ]]; then
        _symbi_path "${_symbi_paths[$cmdpath]}"
    elif [[ -n "${_symbi_dynamic[$cmdpath]+x}" ]]; then
        _symbi_ask
    fi
    _symbi_trim
    return 0
}

# bash replaces only the part of the word after its last ':': drop what is before it from the answers.
_symbi_trim() {
    if [[ "${COMP_WORDS[COMP_CWORD]}" != "$cur" && "$cur" == *:* ]]; then
        local before="${cur%"${cur##*:}"}" n=${#COMPREPLY[@]}
        while ((n-- > 0)); do COMPREPLY[n]="${COMPREPLY[n]#"$before"}"; done
    fi
}

# Files and directories: the shell's own completion, no program run.
_symbi_path() {
    local IFS=$'\n'
    compopt -o filenames 2>/dev/null
    if [[ "$1" == dir ]]; then
        COMPREPLY=($(compgen -d -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}

# Values (job and agent names, runs, zones) come from the program itself: click's completion protocol, the
# words quoted (a quoted cron expression stays one word). The program is the command as typed, or what an alias
# stands for (alias symbi='python3 ~/symbi.pyz'); a shell function works too (the variables are exported from a
# subshell, not passed to env).
_symbi_ask() {
    local IFS=$'\n' line type value response
    local quoted
    quoted=$(printf '%q ' "${words[@]:0:cword+1}")
    local -a prog=("${words[0]}")
    if [[ -n "${BASH_ALIASES[${words[0]}]+x}" ]]; then
        IFS=$' \t\n' eval "prog=(${BASH_ALIASES[${words[0]}]})"
    fi
    response=$(unset COMP_WORDS COMP_CWORD
        export COMP_WORDS="$quoted" COMP_CWORD="$cword" _SYMBI_COMPLETE=bash_complete
        "${prog[@]}" 2>/dev/null) || return 0
    for line in $response; do
        type="${line%%,*}"
        value="${line#*,}"
        case "$type" in
            plain) COMPREPLY+=("$value") ;;
            dir) COMPREPLY=(); compopt -o dirnames 2>/dev/null; return 0 ;;
            file) COMPREPLY=(); compopt -o default 2>/dev/null; return 0 ;;
        esac
    done
}

complete -F _symbi symbi symbi.pyz
