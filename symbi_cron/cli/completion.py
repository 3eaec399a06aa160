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


def _is_dynamic(param: click.Parameter) -> bool:
    """Whether completing this parameter's value needs the program (store lookups, files)."""
    custom = getattr(param, "_custom_shell_complete", None)
    return (
        custom is not None
        or isinstance(param.type, (click.Path, click.File))
        or (isinstance(param, click.Argument) and isinstance(param.type, click.Choice))
    )


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


def tables(tree: Node) -> Tables:
    """Flatten the tree into the lookup tables of the completion scripts (sorted: output is deterministic)."""
    t = Tables({}, {}, {}, {}, [])
    for node in tree.walk():
        key = node.key
        if node.commands:
            t.commands[key] = [(n, short_help(c.command)) for n, c in sorted(node.commands.items())]
        opts: list[tuple[str, str]] = []
        valopts: list[str] = []
        dynamic = any(_is_dynamic(a) for a in node.arguments())
        for opt in node.options():
            help_ = " ".join((opt.help or "").split())
            for name in _opt_names(opt):
                if name.startswith("--") or len(name) == 2:
                    opts.append((name, help_))
                if _takes_value(opt):
                    valopts.append(name)
                    if isinstance(opt.type, click.Choice):
                        t.choices[f"{key} {name}"] = [str(c) for c in opt.type.choices]
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
    assoc("_symbi_dynamic", {k: "1" for k in t.dynamic})
    out.append(_BASH_BODY)
    return "".join(out)


_BASH_BODY = r"""
_symbi() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" cmdpath="symbi" w i skip=0
    ((COMP_CWORD > 0)) && prev="${COMP_WORDS[COMP_CWORD-1]}"
    COMPREPLY=()
    # Walk the words before the cursor: subcommands extend the path; option values are skipped.
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${COMP_WORDS[i]}"
        if ((skip)); then skip=0; continue; fi
        case "$w" in
            --) break ;;
            -*=*) continue ;;
            -*) [[ " ${_symbi_valopts[$cmdpath]} " == *" $w "* ]] && skip=1; continue ;;
        esac
        [[ " ${_symbi_cmds[$cmdpath]} " == *" $w "* ]] && cmdpath="$cmdpath $w"
    done
    # An option's value: its choices, or ask the program.
    if [[ "$prev" == -* && " ${_symbi_valopts[$cmdpath]} " == *" $prev "* ]]; then
        if [[ -n "${_symbi_choices[$cmdpath $prev]+x}" ]]; then
            COMPREPLY=($(compgen -W "${_symbi_choices[$cmdpath $prev]}" -- "$cur"))
        elif [[ -n "${_symbi_dynamic[$cmdpath]+x}" ]]; then
            _symbi_ask
        fi
        return 0
    fi
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "${_symbi_opts[$cmdpath]}" -- "$cur"))
    elif [[ -n "${_symbi_cmds[$cmdpath]+x}" ]]; then
        COMPREPLY=($(compgen -W "${_symbi_cmds[$cmdpath]}" -- "$cur"))
    elif [[ -n "${_symbi_dynamic[$cmdpath]+x}" ]]; then
        _symbi_ask
    fi
    return 0
}

# Values (job and agent names, runs, files) come from the program itself: click's completion protocol.
_symbi_ask() {
    local IFS=$'\n' line type value response
    response=$(env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD="$COMP_CWORD" _SYMBI_COMPLETE=bash_complete \
        "${COMP_WORDS[0]}" 2>/dev/null) || return 0
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

complete -F _symbi symbi
"""


def render_zsh(t: Tables) -> str:
    """The zsh completion script (a ``#compdef`` function: put it on ``$fpath`` as ``_symbi``)."""
    out = [
        "#compdef symbi\n",
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
    elif (( ${+_symbi_dynamic[$cmdpath]} )); then
        _symbi_ask
    fi
}

# Values (job and agent names, runs, files) come from the program itself: click's completion protocol.
_symbi_ask() {
    local -a response plain described
    local type key descr
    response=("${(@f)$(env COMP_WORDS="${words[*]}" COMP_CWORD=$((CURRENT-1)) _SYMBI_COMPLETE=zsh_complete \
        "${words[1]}" 2>/dev/null)}")
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
        if test (count $choices) -gt 0
            printf '%s\n' $choices
        else if test (count (__symbi_dynamic "$cmdpath")) -gt 0
            __symbi_ask
        end
        return
    end
    set -l subs (__symbi_cmds "$cmdpath")
    if string match -q -- '-*' $cur
        __symbi_opts "$cmdpath"
    else if test (count $subs) -gt 0
        printf '%s\n' $subs
    else if test (count (__symbi_dynamic "$cmdpath")) -gt 0
        __symbi_ask
    end
end

# Values (job and agent names, runs, files) come from the program itself: click's completion protocol.
function __symbi_ask
    set -l tokens (commandline -opc)
    for line in (env _SYMBI_COMPLETE=fish_complete COMP_WORDS=(commandline -cp) COMP_CWORD=(commandline -ct) \
            $tokens[1] 2>/dev/null)
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
