"""Shell completion: ``symbi completion bash|zsh|fish`` and the value completers for JOB, AGENT and RUN.

The scripts are generated from the click tree (:func:`command_tree`): command names and options complete from
tables inside the script, without starting Python. Only argument and option *values* (job names, agent names,
pending runs, files) ask the program, through click's completion protocol (``_SYMBI_COMPLETE=bash_complete symbi
...``), which calls the ``shell_complete=`` functions below. ``scripts/gen_docs.py`` writes the same scripts to
``completions/``; a test fails when those files drift from the tree.

The value completers read the store read-only and never create or migrate it: a Tab press must not leave a
``symbi.db`` behind, and it must not fail loudly (any problem completes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import click

SHELLS = ("bash", "zsh", "fish")
PROG = "symbi"
COMPLETE_VAR = "_SYMBI_COMPLETE"


# The value completers live in a small module of their own so that every command's import stays cheap.
from .completers import complete_agent, complete_job, complete_run  # noqa: E402,F401  (re-exported)


# -- the command tree ----------------------------------------------------------------------------------------
@dataclass
class Node:
    """One command of the tree, with what completion and the docs need to know about it."""

    path: tuple[str, ...]
    command: click.Command
    ctx: click.Context
    commands: dict[str, Node] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return " ".join(self.path)

    @property
    def is_group(self) -> bool:
        return isinstance(self.command, click.Group)

    def options(self) -> list[click.Option]:
        opts = [p for p in self.command.get_params(self.ctx) if isinstance(p, click.Option) and not p.hidden]
        return sorted(opts, key=lambda o: _opt_names(o)[0].lstrip("-").lower())

    def arguments(self) -> list[click.Argument]:
        return [p for p in self.command.params if isinstance(p, click.Argument)]

    def walk(self):
        """This node and every node below it, depth first in name order."""
        yield self
        for name in sorted(self.commands):
            yield from self.commands[name].walk()


def command_tree(root: click.Command | None = None, name: str = PROG) -> Node:
    """The whole command tree below ``root`` (``symbi`` by default), importing every lazy command."""
    if root is None:
        from . import cli as root
    assert root is not None
    ctx = click.Context(root, info_name=name, **root.context_settings)
    return _node(root, ctx, (name,))


def _node(cmd: click.Command, ctx: click.Context, path: tuple[str, ...]) -> Node:
    node = Node(path=path, command=cmd, ctx=ctx)
    if isinstance(cmd, click.Group):
        for sub_name in sorted(cmd.list_commands(ctx)):
            sub = cmd.get_command(ctx, sub_name)
            if sub is None or sub.hidden:
                continue
            sub_ctx = click.Context(sub, info_name=sub_name, parent=ctx, **sub.context_settings)
            node.commands[sub_name] = _node(sub, sub_ctx, path + (sub_name,))
    return node


def _opt_names(opt: click.Option) -> list[str]:
    return [*opt.opts, *opt.secondary_opts]


def _takes_value(opt: click.Option) -> bool:
    return not opt.is_flag and not opt.count


def _static_values(param: click.Parameter) -> list[str] | None:
    """Fixed values a parameter completes to (a ``completers.values`` completer): embedded in the scripts."""
    custom = getattr(param, "_custom_shell_complete", None)
    found = getattr(custom, "values", None)
    return [str(v) for v in found] if found is not None else None


def _path_kind(param: click.Parameter) -> str | None:
    """``file`` or ``dir`` for a parameter that takes a path: the shell completes it itself."""
    if isinstance(param.type, click.File):
        return "file"
    if isinstance(param.type, click.Path):
        return "dir" if not param.type.file_okay else "file"
    return None


def _is_dynamic(param: click.Parameter) -> bool:
    """Whether completing this parameter's value needs the program (store lookups, time zones)."""
    custom = getattr(param, "_custom_shell_complete", None)
    if _static_values(param) is not None or _path_kind(param) is not None:
        return False
    return custom is not None or (isinstance(param, click.Argument) and isinstance(param.type, click.Choice))


def short_help(cmd: click.Command) -> str:
    """The first sentence of a command's help, one line."""
    return " ".join(cmd.get_short_help_str(limit=80).split())


@dataclass
class Tables:
    """The per-command tables every shell script embeds (keys are command paths like ``symbi cron add``)."""

    commands: dict[str, list[tuple[str, str]]]  # path -> [(subcommand, help)]
    options: dict[str, list[tuple[str, str]]]  # path -> [(option name, help)]
    value_options: dict[str, list[str]]  # path -> options that take a value
    choices: dict[str, list[str]]  # "path --opt" -> choices
    dynamic: list[str]  # leaf paths whose values the program completes
    paths: dict[str, str] = field(default_factory=dict)  # "path --opt" (or "path" for its argument) -> file|dir


def tables(tree: Node) -> Tables:
    """Flatten the tree into the lookup tables of the completion scripts (sorted: output is deterministic)."""
    t = Tables({}, {}, {}, {}, [], {})
    for node in tree.walk():
        key = node.key
        if node.commands:
            t.commands[key] = [(n, short_help(c.command)) for n, c in sorted(node.commands.items())]
        opts: list[tuple[str, str]] = []
        valopts: list[str] = []
        dynamic = any(_is_dynamic(a) for a in node.arguments())
        for arg in node.arguments():
            if _path_kind(arg):
                t.paths[key] = _path_kind(arg) or "file"
        for opt in node.options():
            help_ = " ".join((opt.help or "").split())
            for name in _opt_names(opt):
                if name.startswith("--") or len(name) == 2:
                    opts.append((name, help_))
                if _takes_value(opt):
                    valopts.append(name)
                    if isinstance(opt.type, click.Choice):
                        t.choices[f"{key} {name}"] = [str(c) for c in opt.type.choices]
                    elif _static_values(opt) is not None:
                        t.choices[f"{key} {name}"] = _static_values(opt) or []
                    elif _path_kind(opt):
                        t.paths[f"{key} {name}"] = _path_kind(opt) or "file"
                    elif _is_dynamic(opt):
                        dynamic = True
        t.options[key] = sorted(opts)
        if valopts:
            t.value_options[key] = sorted(valopts)
        if dynamic:
            t.dynamic.append(key)
    t.dynamic.sort()
    return t


# -- rendering -----------------------------------------------------------------------------------------------
def _sq(text: str) -> str:
    """A POSIX single-quoted word (bash and zsh)."""
    return "'" + text.replace("'", "'\\''") + "'"


def _fq(text: str) -> str:
    """A fish single-quoted word."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


_HEADER = "# {shell} completion for symbi, generated from the command tree by scripts/gen_docs.py: do not edit.\n"


def render_bash(t: Tables) -> str:
    """The bash completion script (bash >= 4: associative arrays)."""
    out = [
        _HEADER.format(shell="bash"),
        "# Install: source it from ~/.bashrc, or copy it to ~/.local/share/bash-completion/completions/symbi\n",
    ]

    def assoc(name: str, items: dict[str, str]) -> None:
        out.append(f"declare -gA {name}=(\n")
        for k in sorted(items):
            out.append(f"  [{_sq(k)}]={_sq(items[k])}\n")
        out.append(")\n")

    assoc("_symbi_cmds", {k: " ".join(n for n, _ in v) for k, v in t.commands.items()})
    assoc("_symbi_opts", {k: " ".join(n for n, _ in v) for k, v in t.options.items()})
    assoc("_symbi_valopts", {k: " ".join(v) for k, v in t.value_options.items()})
    assoc("_symbi_choices", {k: " ".join(v) for k, v in t.choices.items()})
    assoc("_symbi_paths", dict(t.paths))
    assoc("_symbi_dynamic", {k: "1" for k in t.dynamic})
    out.append(_BASH_BODY)
    return "".join(out)


_BASH_BODY = r"""
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
"""


def render_zsh(t: Tables) -> str:
    """The zsh completion script (a ``#compdef`` function: put it on ``$fpath`` as ``_symbi``)."""
    out = [
        "#compdef symbi symbi.pyz\n",
        _HEADER.format(shell="zsh"),
        "# Install: copy it to a directory on $fpath as _symbi (then compinit), or source it after compinit.\n",
    ]

    def assoc(name: str, items: dict[str, str]) -> None:
        out.append(f"typeset -gA {name}\n{name}=(\n")
        for k in sorted(items):
            out.append(f"  {_sq(k)} {_sq(items[k])}\n")
        out.append(")\n")

    def described(pairs: list[tuple[str, str]]) -> str:
        return "\n".join(f"{n.replace(':', chr(92) + ':')}:{h}" if h else n for n, h in pairs)

    assoc("_symbi_cmds", {k: described(v) for k, v in t.commands.items()})
    assoc("_symbi_opts", {k: described(v) for k, v in t.options.items()})
    assoc("_symbi_valopts", {k: " ".join(v) for k, v in t.value_options.items()})
    assoc("_symbi_choices", {k: " ".join(v) for k, v in t.choices.items()})
    assoc("_symbi_paths", dict(t.paths))
    assoc("_symbi_dynamic", {k: "1" for k in t.dynamic})
    out.append(_ZSH_BODY)
    return "".join(out)


_ZSH_BODY = r"""
_symbi() {
    local cur="${words[CURRENT]}" prev="${words[CURRENT-1]}" cmdpath="symbi" w
    local -i i skip=0
    local -a items
    for ((i = 2; i < CURRENT; i++)); do
        w="${words[i]}"
        if ((skip)); then skip=0; continue; fi
        case "$w" in
            --) break ;;
            -*=*) continue ;;
            -*) [[ " ${_symbi_valopts[$cmdpath]} " == *" $w "* ]] && skip=1; continue ;;
        esac
        [[ " ${_symbi_cmds[$cmdpath]//$'\n'/ } " == *" $w:"* || " ${_symbi_cmds[$cmdpath]//$'\n'/ } " == *" $w "* ]] \
            && cmdpath="$cmdpath $w"
    done
    if [[ "$prev" == -* && " ${_symbi_valopts[$cmdpath]} " == *" $prev "* ]]; then
        if (( ${+_symbi_choices[$cmdpath $prev]} )); then
            items=(${=_symbi_choices[$cmdpath $prev]})
            compadd -a items
        elif (( ${+_symbi_paths[$cmdpath $prev]} )); then
            _symbi_path ${_symbi_paths[$cmdpath $prev]}
        elif (( ${+_symbi_dynamic[$cmdpath]} )); then
            _symbi_ask
        fi
        return
    fi
    if [[ "$cur" == -* ]]; then
        items=("${(@f)_symbi_opts[$cmdpath]}")
        _describe -t options option items
    elif (( ${+_symbi_cmds[$cmdpath]} )); then
        items=("${(@f)_symbi_cmds[$cmdpath]}")
        _describe -t commands command items
    elif (( ${+_symbi_paths[$cmdpath]} )); then
        _symbi_path ${_symbi_paths[$cmdpath]}
    elif (( ${+_symbi_dynamic[$cmdpath]} )); then
        _symbi_ask
    fi
}

# Files and directories: zsh's own completion, no program run.
_symbi_path() {
    if [[ "$1" == dir ]]; then _path_files -/; else _path_files -f; fi
}

# Values (job and agent names, runs, zones) come from the program itself: click's completion protocol. The
# program is the command as typed (~ expanded; reached through an alias such as symbi='python3 ~/symbi.pyz',
# zsh hands us the zipapp's path), or what an alias stands for when complete_aliases is set; a shell function
# works too (the variables are exported from a subshell).
_symbi_ask() {
    local -a response plain described prog
    local type key descr w="${words[1]}" cline="${words[*]}" cword=$((CURRENT-1))
    if (( ${+aliases[$w]} )); then eval "prog=(${aliases[$w]})"; else eval "prog=($w)"; fi
    response=("${(@f)$(export COMP_WORDS="$cline" COMP_CWORD=$cword _SYMBI_COMPLETE=zsh_complete
        "${prog[@]}" 2>/dev/null)}")
    for type key descr in ${response}; do
        case "$type" in
            plain) if [[ "$descr" == "_" ]]; then plain+=("$key"); else described+=("$key:$descr"); fi ;;
            dir) _path_files -/ ;;
            file) _path_files -f ;;
        esac
    done
    (( ${#described} )) && _describe -V values described -U
    (( ${#plain} )) && compadd -U -V values -a plain
}

if [[ "${zsh_eval_context[-1]}" == loadautofunc ]]; then
    _symbi "$@"
else
    compdef _symbi symbi
fi
"""


def render_fish(t: Tables) -> str:
    """The fish completion script (copy it to ~/.config/fish/completions/symbi.fish)."""
    out = [_HEADER.format(shell="fish"), "# Install: copy it to ~/.config/fish/completions/symbi.fish\n"]

    def switch(fn: str, items: dict[str, str]) -> None:
        out.append(f"\nfunction {fn}\n    switch $argv[1]\n")
        for k in sorted(items):
            out.append(f"        case {_fq(k)}\n            printf '%s\\n' {items[k]}\n")
        out.append("    end\nend\n")

    def words(pairs: list[tuple[str, str]]) -> str:
        return " ".join(_fq(f"{n}\t{h}" if h else n) for n, h in pairs)

    switch("__symbi_cmds", {k: words(v) for k, v in t.commands.items()})
    switch("__symbi_opts", {k: words(v) for k, v in t.options.items()})
    switch("__symbi_valopts", {k: " ".join(_fq(o) for o in v) for k, v in t.value_options.items()})
    switch("__symbi_choices", {k: " ".join(_fq(c) for c in v) for k, v in t.choices.items()})
    switch("__symbi_paths", {k: _fq(v) for k, v in t.paths.items()})
    switch("__symbi_dynamic", {k: "1" for k in t.dynamic})
    out.append(_FISH_BODY)
    return "".join(out)


_FISH_BODY = r"""
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
"""

RENDERERS = {"bash": render_bash, "zsh": render_zsh, "fish": render_fish}
#: Where ``scripts/gen_docs.py`` writes each script, relative to the repository.
FILES = {"bash": "completions/symbi.bash", "zsh": "completions/_symbi", "fish": "completions/symbi.fish"}


def script(shell: str, tree: Node | None = None) -> str:
    """The completion script for ``shell`` generated from the (current) command tree."""
    return RENDERERS[shell](tables(tree or command_tree()))


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the shell completion script for bash, zsh or fish.

    \b
      symbi completion bash > ~/.local/share/bash-completion/completions/symbi
      symbi completion zsh > "${fpath[1]}/_symbi"
      symbi completion fish > ~/.config/fish/completions/symbi.fish

    Commands and options complete without starting symbi; job names, agent names and pending runs are read from
    the store (SYMBI_HOME) when you press Tab after a command that takes one.
    """
    click.echo(script(shell), nl=False)
