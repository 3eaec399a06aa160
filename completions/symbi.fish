# fish completion for symbi, generated from the command tree by scripts/gen_docs.py: do not edit.
# Install: copy it to ~/.config/fish/completions/symbi.fish

function __symbi_cmds
    switch $argv[1]
        case 'symbi'
            printf '%s\n' 'agent	Register and inspect the agents jobs run.' 'api-key	Print the key the HTTP API expects in `Authorization: Bearer KEY`.' 'audit	Query the append-only audit log and verify it was not tampered with.' 'completion	Print the shell completion script for bash, zsh or fish.' 'config	Inspect the configuration (config.toml plus SYMBI_* environment overrides).' 'cron	Manage and run scheduled jobs.' 'doctor	Check the installation: config and the ${VAR}s it references, the store...' 'logs	Show the daemon\'s log, filtered.' 'man	Show a manual page: `symbi man` (symbi(1)), `symbi man cron` (symbi-cron(1)),...' 'run	Run an agent once in the foreground (test it outside the scheduler).' 'store	Manage the job store (SQLite by default; PostgreSQL for several daemons).' 'ui	Print a login link for the web dashboard the daemon serves beside its API.' 'usage	Show the tokens and cost of model agents\' runs, grouped by day (default),...'
        case 'symbi agent'
            printf '%s\n' 'add	Register agent NAME.' 'list	List registered agents (the table fits the terminal; --wide shows every...' 'remove	Unregister agent NAME (refused while jobs use it, unless --force).' 'show	Show one agent.'
        case 'symbi audit'
            printf '%s\n' 'query	List audit events, newest first.' 'verify	Recompute the hash chain; exit 1 naming every row changed, removed or inserted.'
        case 'symbi config'
            printf '%s\n' 'show	Print the effective configuration with secrets masked.'
        case 'symbi cron'
            printf '%s\n' 'add	Add a job from JSON or from a .symbi file.' 'apply	Make the store match a .symbi file, in one transaction: print what is...' 'approve	Approve a run waiting in pending_approval: it starts as soon as the daemon...' 'cancel	Cancel a run: a queued one at once; a running one is stopped by its owner and...' 'daemon	Start, stop, inspect or reload the scheduler daemon.' 'deny	Deny a run waiting in pending_approval: it is closed as denied and never starts.' 'edit	Edit jobs in $VISUAL or $EDITOR as a .symbi file, like `crontab -e`.' 'export	Print the jobs as a crontab (the ones crontab can express; the others as...' 'history	Show a job\'s runs, newest first: the slot, when each run really started and...' 'import	Turn each line of a crontab into an agent and a job (one transaction).' 'list	List jobs with their next and last runs, in each job\'s time zone.' 'next	Print the next fire times of the cron expression EXPR.' 'pause	Pause a job: no new runs until resumed; state is kept.' 'pending	List runs waiting for approval, oldest first (times in each job\'s zone, --utc...' 'remove	Remove a job and its run history (asks first unless --force).' 'reset	Return a job (e.g. dead-lettered) to active, failure count zero, fresh next run.' 'resume	Resume a paused job; its next run is computed from now.' 'run	Run a job now: queued for the daemon, or executed by this command when no...' 'status	Show a job\'s details, next run and recent runs (times in the job\'s zone, with...' 'test-delivery	Send a sample run of JOB through its delivery channels and print one receipt...' 'update	Change some of a job\'s fields, keeping the others, its status and its history.' 'validate	Check a .symbi file without changing anything.'
        case 'symbi store'
            printf '%s\n' 'migrate	Copy jobs, agents, runs, deliveries and the audit log into another store,...' 'prune	Apply [retention] now: old runs and their logs, old job logs, the context...'
    end
end

function __symbi_opts
    switch $argv[1]
        case 'symbi'
            printf '%s\n' '--help	Show this message and exit.' '--version	Show the version and exit.' '-V	Show the version and exit.' '-h	Show this message and exit.'
        case 'symbi agent'
            printf '%s\n' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi agent add'
            printf '%s\n' '--agentpin-id	The agent\'s AgentPin id (default: its name).' '--capability	A capability (repeatable).' '--command	Command line to run (split like a shell, no shell).' '--description	A note for people.' '--env	Environment for the agent (repeatable); values may be ${VAR} references.' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '--inherit-env	Start from the daemon\'s whole environment (less the variables config.toml refers to) instead of cron\'s minimal one (PATH, HOME, USER, LOGNAME, SHELL, LANG, LC_*, TZ, TMPDIR).' '--model	A model agent: the model name (with --system-prompt).' '--replace	Replace an agent with the same name.' '--shell	Run --command through /bin/sh -c (pipes, redirections).' '--system-prompt	The model agent\'s system prompt.' '--workdir	Working directory (default: the run\'s context directory).' '-h	Show this message and exit.'
        case 'symbi agent list'
            printf '%s\n' '--format	Output format: table for people, json/csv for scripts.' '--help	Show this message and exit.' '--wide	Show every column at full width (no fitting to the terminal).' '-h	Show this message and exit.'
        case 'symbi agent remove'
            printf '%s\n' '--force	Remove it even while jobs use it (their runs will fail).' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi agent show'
            printf '%s\n' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi api-key'
            printf '%s\n' '--help	Show this message and exit.' '--path	Print where the key file is instead of the key.' '-h	Show this message and exit.'
        case 'symbi audit'
            printf '%s\n' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi audit query'
            printf '%s\n' '--actor	Who acted: cli:alice, alice, daemon, api:...' '--format	Output format: table for people, json/csv for scripts.' '--help	Show this message and exit.' '--job	Job id, id prefix or name (deleted jobs too).' '--limit	At most N events, the newest.' '--run	Run id or id prefix.' '--since	From this time: 1h, 30min, \'2 hours ago\', yesterday, YYYY-MM-DD or ISO 8601 (local time without offset).' '--type	Only this event type (repeatable), e.g. CronJobFailed.' '--until	Up to this time (same forms); a bare date includes that whole day.' '--wide	Show every column at full width (no fitting to the terminal).' '-h	Show this message and exit.'
        case 'symbi audit verify'
            printf '%s\n' '--expect-head	A head printed by an earlier verify and kept elsewhere: it must still be in the chain.' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi completion'
            printf '%s\n' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi config'
            printf '%s\n' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi config show'
            printf '%s\n' '--format	Output format: toml for people, json for scripts.' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi cron'
            printf '%s\n' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi cron add'
            printf '%s\n' '--all	Add every schedule in --file.' '--file	A .symbi file holding the schedule.' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '--json	The job as a JSON object (`-` reads stdin).' '--replace	Replace a job (or agent) with the same name.' '--schedule	Schedule(s) to add from --file.' '-h	Show this message and exit.'
        case 'symbi cron apply'
            printf '%s\n' '--dry-run	Print the plan; write nothing.' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '--prune	Also remove the jobs the file does not declare (with their history).' '-h	Show this message and exit.'
        case 'symbi cron approve'
            printf '%s\n' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi cron cancel'
            printf '%s\n' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi cron daemon'
            printf '%s\n' '--all	status: every live daemon of the store (several share a PostgreSQL store), with its name, host, pid, lease age, version and load.' '--drain	restart: drain the runs in flight first, as stop does.' '--foreground	Run in this terminal (for systemd and containers); logs on stderr.' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '--leave-running	stop: exit at once and leave the runs in flight running under their owners (the next daemon adopts them). restart does this unless --drain is given.' '--timeout	stop/restart: seconds to wait for the daemon to exit (default: shutdown_timeout_seconds + kill_grace_seconds + 10).' '-h	Show this message and exit.'
        case 'symbi cron deny'
            printf '%s\n' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '--reason	Why (kept on the run and in the audit log).' '-h	Show this message and exit.'
        case 'symbi cron edit'
            printf '%s\n' '--help	Show this message and exit.' '--name	Only these jobs (repeatable).' '-h	Show this message and exit.'
        case 'symbi cron export'
            printf '%s\n' '--format	crontab: the jobs crontab can express; symbi: every job and its agents as a .symbi file.' '--help	Show this message and exit.' '--name	Only these jobs (repeatable; symbi format).' '-h	Show this message and exit.'
        case 'symbi cron history'
            printf '%s\n' '--format	Output format: table for people, json/csv for scripts.' '--help	Show this message and exit.' '--limit	How many runs.' '--status	Only runs in this status (e.g. failed).' '--utc	Show times in UTC instead of each job\'s time zone.' '--wide	Show every column at full width (no fitting to the terminal).' '-h	Show this message and exit.'
        case 'symbi cron import'
            printf '%s\n' '--crontab	A user crontab (`-` reads stdin, e.g. `crontab -l | symbi cron import --crontab -`).' '--dry-run	Show what would be created; write nothing.' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '--prefix	Prefix for the names of the jobs and agents.' '--replace	Replace jobs and agents that have the same names.' '--skip-invalid	Import the lines that convert even if some do not.' '-h	Show this message and exit.'
        case 'symbi cron list'
            printf '%s\n' '--agent	Only jobs running this agent.' '--format	Output format: table for people, json/csv for scripts.' '--help	Show this message and exit.' '--sort	Order: name, next run (soonest first), status, or last run (most recent first).' '--status	Only jobs in this status (active, paused, completed, failed, dead_letter).' '--utc	Show times in UTC instead of each job\'s time zone.' '--wide	Show every column at full width (no fitting to the terminal).' '-h	Show this message and exit.'
        case 'symbi cron next'
            printf '%s\n' '--count	How many fire times to list (1-1000).' '--format	table for people (with the expression in words), json for scripts.' '--from	List fire times strictly after this instant (default: now). Without an offset it is read in --tz.' '--help	Show this message and exit.' '--tz	IANA time zone to compute in (default: scheduler.default_timezone, else the machine\'s zone).' '-h	Show this message and exit.'
        case 'symbi cron pause'
            printf '%s\n' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi cron pending'
            printf '%s\n' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '--utc	Show times in UTC instead of each job\'s time zone.' '--wide	Show every column at full width (no fitting to the terminal).' '-h	Show this message and exit.'
        case 'symbi cron remove'
            printf '%s\n' '--force	Do not ask for confirmation.' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '--name	Name of the job to remove (instead of JOB).' '-h	Show this message and exit.'
        case 'symbi cron reset'
            printf '%s\n' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi cron resume'
            printf '%s\n' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi cron run'
            printf '%s\n' '--cancel-on-interrupt	Ctrl-C cancels the run (its agent is stopped, the run recorded cancelled) instead of only stopping the waiting.' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '--input	Input for this run (default: the job\'s input).' '--timeout	With --wait: give up after this many seconds (exit 1).' '--wait	Stream the run\'s output and exit with its result (0 succeeded).' '-h	Show this message and exit.'
        case 'symbi cron status'
            printf '%s\n' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '--history	How many recent runs to show.' '--utc	Show times in UTC instead of each job\'s time zone.' '--watch	Redraw every 5 seconds until interrupted.' '--wide	Show every column at full width (no fitting to the terminal).' '-h	Show this message and exit.'
        case 'symbi cron test-delivery'
            printf '%s\n' '--channel	Send only through this channel (repeatable): stdout, log_file, webhook, slack, email or custom:NAME. Default: the job\'s own delivery list.' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi cron update'
            printf '%s\n' '--cron	A new cron expression (shorthand for --json).' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '--json	The fields to change, as a JSON object (`-` reads stdin); the others are kept.' '-h	Show this message and exit.'
        case 'symbi cron validate'
            printf '%s\n' '--file	The .symbi file to check (`-` = stdin).' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi doctor'
            printf '%s\n' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi logs'
            printf '%s\n' '--filter	Only lines containing TEXT (e.g. scheduler, a job name).' '--follow	Keep printing lines as they are written.' '--help	Show this message and exit.' '--level	Only lines at this level or above (start the daemon with SYMBI_LOG_LEVEL=DEBUG for debug).' '--lines	How many lines from the end.' '--since	Only lines from this time: 1h, 30min, \'2 hours ago\', today, YYYY-MM-DD or ISO 8601.' '--until	Only lines up to this time (same forms).' '-f	Keep printing lines as they are written.' '-h	Show this message and exit.' '-n	How many lines from the end.'
        case 'symbi man'
            printf '%s\n' '--help	Show this message and exit.' '--where	Print the directory to put on MANPATH (then `man symbi` works), and exit.' '-h	Show this message and exit.'
        case 'symbi run'
            printf '%s\n' '--help	Show this message and exit.' '--input	Text on the agent\'s stdin (`-` reads this stdin).' '--timeout	Kill the agent after this many seconds (exit 124).' '-h	Show this message and exit.'
        case 'symbi store'
            printf '%s\n' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi store migrate'
            printf '%s\n' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '--to	The empty target store: postgresql://USER@HOST/DB (a password from ${ENV} or ~/.pgpass).' '-h	Show this message and exit.'
        case 'symbi store prune'
            printf '%s\n' '--dry-run	Say what would be removed; remove nothing.' '--format	Output format: table for people, json for scripts.' '--help	Show this message and exit.' '-h	Show this message and exit.'
        case 'symbi ui'
            printf '%s\n' '--format	Output format: text for people, json for scripts.' '--help	Show this message and exit.' '--logout-all	End every dashboard session and unused login link instead (works with the daemon stopped too).' '--open	Open the link in the default web browser too.' '-h	Show this message and exit.'
        case 'symbi usage'
            printf '%s\n' '--agent	Only this agent.' '--by	Group by day, job, agent or model (repeatable: --by job --by model); default: day.' '--format	Output format: table for people, json/csv for scripts.' '--help	Show this message and exit.' '--job	Only this job (its name).' '--model	Only this model (as the API spells it: claude-sonnet-4-5).' '--since	From this time: 7d, \'2 weeks ago\', yesterday, YYYY-MM-DD or ISO 8601 (days are UTC days).' '--until	Up to this time (same forms); a bare date includes that whole day.' '-h	Show this message and exit.'
    end
end

function __symbi_valopts
    switch $argv[1]
        case 'symbi agent add'
            printf '%s\n' '--agentpin-id' '--capability' '--command' '--description' '--env' '--format' '--model' '--system-prompt' '--workdir'
        case 'symbi agent list'
            printf '%s\n' '--format'
        case 'symbi agent show'
            printf '%s\n' '--format'
        case 'symbi audit query'
            printf '%s\n' '--actor' '--format' '--job' '--limit' '--run' '--since' '--type' '--until'
        case 'symbi audit verify'
            printf '%s\n' '--expect-head' '--format'
        case 'symbi config show'
            printf '%s\n' '--format'
        case 'symbi cron add'
            printf '%s\n' '--file' '--format' '--json' '--schedule'
        case 'symbi cron apply'
            printf '%s\n' '--format'
        case 'symbi cron approve'
            printf '%s\n' '--format'
        case 'symbi cron cancel'
            printf '%s\n' '--format'
        case 'symbi cron daemon'
            printf '%s\n' '--format' '--timeout'
        case 'symbi cron deny'
            printf '%s\n' '--format' '--reason'
        case 'symbi cron edit'
            printf '%s\n' '--name'
        case 'symbi cron export'
            printf '%s\n' '--format' '--name'
        case 'symbi cron history'
            printf '%s\n' '--format' '--limit' '--status'
        case 'symbi cron import'
            printf '%s\n' '--crontab' '--format' '--prefix'
        case 'symbi cron list'
            printf '%s\n' '--agent' '--format' '--sort' '--status'
        case 'symbi cron next'
            printf '%s\n' '--count' '--format' '--from' '--tz'
        case 'symbi cron pause'
            printf '%s\n' '--format'
        case 'symbi cron pending'
            printf '%s\n' '--format'
        case 'symbi cron remove'
            printf '%s\n' '--format' '--name'
        case 'symbi cron reset'
            printf '%s\n' '--format'
        case 'symbi cron resume'
            printf '%s\n' '--format'
        case 'symbi cron run'
            printf '%s\n' '--format' '--input' '--timeout'
        case 'symbi cron status'
            printf '%s\n' '--format' '--history'
        case 'symbi cron test-delivery'
            printf '%s\n' '--channel' '--format'
        case 'symbi cron update'
            printf '%s\n' '--cron' '--format' '--json'
        case 'symbi cron validate'
            printf '%s\n' '--file' '--format'
        case 'symbi doctor'
            printf '%s\n' '--format'
        case 'symbi logs'
            printf '%s\n' '--filter' '--level' '--lines' '--since' '--until' '-n'
        case 'symbi run'
            printf '%s\n' '--input' '--timeout'
        case 'symbi store migrate'
            printf '%s\n' '--format' '--to'
        case 'symbi store prune'
            printf '%s\n' '--format'
        case 'symbi ui'
            printf '%s\n' '--format'
        case 'symbi usage'
            printf '%s\n' '--agent' '--by' '--format' '--job' '--model' '--since' '--until'
    end
end

function __symbi_choices
    switch $argv[1]
        case 'symbi agent add --format'
            printf '%s\n' 'table' 'json'
        case 'symbi agent list --format'
            printf '%s\n' 'table' 'json' 'csv'
        case 'symbi agent show --format'
            printf '%s\n' 'table' 'json'
        case 'symbi audit query --format'
            printf '%s\n' 'table' 'json' 'csv'
        case 'symbi audit query --type'
            printf '%s\n' 'CronJobCreated' 'CronJobUpdated' 'CronJobDeleted' 'CronJobPaused' 'CronJobResumed' 'CronJobReset' 'CronJobTriggered' 'CronJobExecuted' 'CronJobFailed' 'CronJobDeadLettered' 'CronJobCompleted' 'AgentRegistered' 'AgentRemoved' 'AgentPinVerificationFailed' 'CronRunPolicyDenied' 'CronRunApprovalRequested' 'CronRunApproved' 'CronRunDenied' 'CronRunApprovalExpired' 'CronRunCancelled' 'CronRunBudgetExceeded' 'StorePruned' 'DashboardSessionStarted' 'DashboardSessionsEnded'
        case 'symbi audit verify --format'
            printf '%s\n' 'table' 'json'
        case 'symbi config show --format'
            printf '%s\n' 'toml' 'json'
        case 'symbi cron add --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron apply --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron approve --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron cancel --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron daemon --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron deny --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron export --format'
            printf '%s\n' 'crontab' 'symbi'
        case 'symbi cron history --format'
            printf '%s\n' 'table' 'json' 'csv'
        case 'symbi cron history --status'
            printf '%s\n' 'queued' 'pending_approval' 'running' 'succeeded' 'failed' 'timed_out' 'denied' 'skipped' 'missed' 'interrupted' 'cancelled' 'budget_exceeded'
        case 'symbi cron import --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron list --format'
            printf '%s\n' 'table' 'json' 'csv'
        case 'symbi cron list --sort'
            printf '%s\n' 'name' 'next' 'status' 'last'
        case 'symbi cron list --status'
            printf '%s\n' 'active' 'paused' 'completed' 'failed' 'dead_letter'
        case 'symbi cron next --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron pause --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron pending --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron remove --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron reset --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron resume --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron run --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron status --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron test-delivery --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron update --format'
            printf '%s\n' 'table' 'json'
        case 'symbi cron validate --format'
            printf '%s\n' 'table' 'json'
        case 'symbi doctor --format'
            printf '%s\n' 'table' 'json'
        case 'symbi logs --level'
            printf '%s\n' 'debug' 'info' 'warning' 'error'
        case 'symbi store migrate --format'
            printf '%s\n' 'table' 'json'
        case 'symbi store prune --format'
            printf '%s\n' 'table' 'json'
        case 'symbi ui --format'
            printf '%s\n' 'text' 'json'
        case 'symbi usage --by'
            printf '%s\n' 'day' 'job' 'agent' 'model'
        case 'symbi usage --format'
            printf '%s\n' 'table' 'json' 'csv'
    end
end

function __symbi_paths
    switch $argv[1]
        case 'symbi agent add --workdir'
            printf '%s\n' 'dir'
        case 'symbi cron add --file'
            printf '%s\n' 'file'
        case 'symbi cron apply'
            printf '%s\n' 'file'
        case 'symbi cron import --crontab'
            printf '%s\n' 'file'
        case 'symbi cron validate --file'
            printf '%s\n' 'file'
    end
end

function __symbi_dynamic
    switch $argv[1]
        case 'symbi agent remove'
            printf '%s\n' 1
        case 'symbi agent show'
            printf '%s\n' 1
        case 'symbi audit query'
            printf '%s\n' 1
        case 'symbi completion'
            printf '%s\n' 1
        case 'symbi cron approve'
            printf '%s\n' 1
        case 'symbi cron daemon'
            printf '%s\n' 1
        case 'symbi cron deny'
            printf '%s\n' 1
        case 'symbi cron edit'
            printf '%s\n' 1
        case 'symbi cron export'
            printf '%s\n' 1
        case 'symbi cron history'
            printf '%s\n' 1
        case 'symbi cron list'
            printf '%s\n' 1
        case 'symbi cron next'
            printf '%s\n' 1
        case 'symbi cron pause'
            printf '%s\n' 1
        case 'symbi cron remove'
            printf '%s\n' 1
        case 'symbi cron reset'
            printf '%s\n' 1
        case 'symbi cron resume'
            printf '%s\n' 1
        case 'symbi cron run'
            printf '%s\n' 1
        case 'symbi cron status'
            printf '%s\n' 1
        case 'symbi cron test-delivery'
            printf '%s\n' 1
        case 'symbi cron update'
            printf '%s\n' 1
        case 'symbi run'
            printf '%s\n' 1
        case 'symbi usage'
            printf '%s\n' 1
    end
end

function __symbi_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l cmdpath symbi
    set -l skip 0
    for w in $tokens[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case '--'
                break
            case '-*=*'
                continue
            case '-*'
                contains -- $w (__symbi_valopts "$cmdpath"); and set skip 1
                continue
        end
        set -l subs (__symbi_cmds "$cmdpath" | string replace -r '\t.*' '')
        contains -- $w $subs; and set cmdpath "$cmdpath $w"
    end
    set -l prev $tokens[-1]
    if string match -q -- '-*' $prev; and contains -- $prev (__symbi_valopts "$cmdpath")
        set -l choices (__symbi_choices "$cmdpath $prev")
        set -l path (__symbi_paths "$cmdpath $prev")
        if test (count $choices) -gt 0
            printf '%s\n' $choices
        else if test (count $path) -gt 0
            __symbi_path $path
        else if test (count (__symbi_dynamic "$cmdpath")) -gt 0
            __symbi_ask
        end
        return
    end
    set -l subs (__symbi_cmds "$cmdpath")
    set -l path (__symbi_paths "$cmdpath")
    if string match -q -- '-*' $cur
        __symbi_opts "$cmdpath"
    else if test (count $subs) -gt 0
        printf '%s\n' $subs
    else if test (count $path) -gt 0
        __symbi_path $path
    else if test (count (__symbi_dynamic "$cmdpath")) -gt 0
        __symbi_ask
    end
end

# Files and directories: fish's own completion, no program run.
function __symbi_path
    if test "$argv[1]" = dir
        __fish_complete_directories (commandline -ct)
    else
        __fish_complete_path (commandline -ct)
    end
end

# Values (job and agent names, runs, zones) come from the program itself: click's completion protocol. The
# program is the command as typed (~ expanded), so a fish alias (a function: alias symbi='python3 ~/symbi.pyz')
# works: the variables are exported with set -x, not passed to env.
function __symbi_ask
    set -l tokens (commandline -opc)
    set -l prog (string replace -r '^~(?=/|$)' -- $HOME $tokens[1])
    set -lx _SYMBI_COMPLETE fish_complete
    set -lx COMP_WORDS (commandline -cp)
    set -lx COMP_CWORD (commandline -ct)
    for line in ($prog 2>/dev/null)
        set -l parts (string split -m 1 ',' -- $line)
        switch $parts[1]
            case plain
                echo $parts[2]
            case dir
                __fish_complete_directories (commandline -ct)
            case file
                __fish_complete_path (commandline -ct)
        end
    end
end

complete -c symbi -f -a '(__symbi_complete)'
complete -c symbi.pyz -f -a '(__symbi_complete)'
