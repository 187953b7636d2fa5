"""Exec-mode commands of the simulated CLI: show, copy, dir, more, verify, delete,
write, archive and configure replace, plus the ``| include`` family of filters."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from netwarden.lab.sim import shows_l3
from netwarden.lab.sim.cligrammar import interface_name
from netwarden.lab.sim.config import ConfigApplier, ConfigTree
from netwarden.lab.sim.configdiff import contextual_diff
from netwarden.lab.sim.context import build_context
from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.flash import split_path
from netwarden.lab.sim.shows import resolve
from netwarden.lab.sim.shows_system import interface_section

logger = logging.getLogger(__name__)

INVALID = "% Invalid input detected at '^' marker."
INCOMPLETE = "% Incomplete command.\n\n"
"""IOS's error for a command that needs more words (a blank line follows it, as on IOS)."""
SHOW_ALONE = '% Type "show ?" for a list of subcommands'
_AMBIGUOUS = "% Ambiguous command:"
_REPLACE_BANNER = (
    "This will apply all necessary additions and deletions\n"
    "to replace the current running configuration with the\n"
    "contents of the specified configuration file, which is\n"
    "assumed to be a complete configuration, not a partial\n"
    "configuration. Enter Y if you are sure you want to proceed. ? [no]: "
)
_FILTERS = ("include", "exclude", "begin", "section", "count")
_PRIVILEGED_SHOWS = frozenset({"running-config", "startup-config", "archive"})
"""``show`` keywords IOS refuses below privilege 15 (``% Invalid input``, as if unknown)."""


def invalid_at(prompt: str, column: int) -> str:
    """IOS's error for a command it cannot parse, the caret under ``column``, a blank line after."""
    return " " * (len(prompt) + column) + "^\n" + INVALID + "\n\n"


def word_column(line: str, number: int) -> int:
    """Column of word ``number`` of ``line`` (0 is the verb), where a caret points at it."""
    column = 0
    for index, word in enumerate(line.split()):
        column = line.index(word, column)
        if index == number:
            return column
        column += len(word)
    return len(line)


def _file_alias(word: str) -> str:
    """Normalize copy endpoints: ``run`` -> ``system:running-config`` and so on."""
    lowered = word.lower()
    if lowered in ("system:running-config", "system:/running-config") or (
        len(lowered) >= 3 and "running-config".startswith(lowered)
    ):
        return "system:running-config"
    if lowered in ("nvram:startup-config", "nvram:/startup-config") or (
        len(lowered) >= 3 and "startup-config".startswith(lowered)
    ):
        return "nvram:startup-config"
    if lowered in ("null:", "null:/"):
        return "null:"
    return word


def _bytes_copied(size: int) -> str:
    return f"{size} bytes copied in 0.052 secs ({int(size / 0.052)} bytes/sec)"


class ExecCommands:
    """Mixin of :class:`~netwarden.lab.sim.session.CliSession` for exec commands."""

    device: SimDevice
    username: str
    source: str
    line_no: int
    privilege: int
    applier: ConfigApplier | None

    def prompt(self) -> str:
        raise NotImplementedError

    def ask(self, question: str, handler: Callable[[str], str], *, echo: bool = True) -> str:
        raise NotImplementedError

    def drop(self) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- verbs
    def run_exec(self, verb: str, args: list[str], line: str) -> str:  # noqa: PLR0911, PLR0912 - the verb table
        if verb == "show":
            return self.show(args, line)
        if verb == "write":
            if args and not "memory".startswith(args[0].lower()):
                return invalid_at(self.prompt(), line.index(args[0]))
            self.device.save()
            return "Building configuration...\n[OK]"
        if verb == "copy":
            return self._copy([a for a in args if not a.startswith("/")])
        if verb == "dir":
            return self.device.flash.dir_text(args[-1] if args else "flash:/")
        if verb == "more":
            return self._more([a for a in args if not a.startswith("/")])
        if verb == "verify":
            paths = [a for a in args if not a.startswith("/")]
            if not paths:
                return INCOMPLETE
            with self.device.lock:
                result = self.device.flash.md5_line(paths[0])
            return result if result.startswith("%") else "." * 40 + "Done!\n" + result
        if verb == "delete":
            return self._delete(args)
        if verb == "archive":
            if not args or not "config".startswith(args[0].lower()):
                return INCOMPLETE
            name = self.device.archive_now()
            return "" if name else "%Archive feature not enabled"
        if verb == "clear":
            if args and "logging".startswith(args[0].lower()):
                return self.ask("Clear logging buffer [confirm]", self._clear_log)
            return INCOMPLETE
        if verb == "ping":
            return self._ping(args)
        if verb == "traceroute":
            output = shows_l3.traceroute(build_context(self.device, self.line_no), args)
            return INCOMPLETE if output is None else output
        return invalid_at(self.prompt(), 0)

    def _clear_log(self, answer: str) -> str:
        if answer.strip().lower() in ("", "y", "yes"):
            with self.device.lock:
                self.device.log.clear()
        return ""

    @staticmethod
    def _ping(args: list[str]) -> str:
        if not args:
            return INCOMPLETE
        return (
            "Type escape sequence to abort.\n"
            f"Sending 5, 100-byte ICMP Echos to {args[-1]}, timeout is 2 seconds:\n!!!!!\n"
            "Success rate is 100 percent (5/5), round-trip min/avg/max = 1/1/2 ms"
        )

    def _quiet(self) -> bool:
        return self.device.running.find("file prompt quiet") is not None

    # --------------------------------------------------------------- files
    def _more(self, args: list[str]) -> str:
        if not args:
            return INCOMPLETE
        data = self.device.read_file(args[0])
        if data is None:
            return f"%Error opening {args[0]} (No such file or directory)"
        return data.decode("utf-8", "replace").rstrip("\n")

    def _delete(self, args: list[str]) -> str:
        force = any(a.lower() == "/force" for a in args)
        paths = [a for a in args if not a.startswith("/")]
        if not paths:
            return INCOMPLETE
        path = paths[0]

        def do_delete() -> str:
            with self.device.lock:
                ok = self.device.flash.delete(path)
            return "" if ok else f"%Error deleting {path} (No such file or directory)"

        if force or self._quiet():
            return do_delete()
        name = split_path(path)[1]
        return self.ask(
            f"Delete filename [{name}]? ",
            lambda _a: self.ask(f"Delete {path}? [confirm]", lambda _b: do_delete()),
        )

    def _copy(self, args: list[str]) -> str:
        if len(args) < 2:
            return INCOMPLETE
        src, dst = _file_alias(args[0]), _file_alias(args[1])
        data = self.device.read_file(src)
        if data is None:
            return f"%Error opening {src} (No such file or directory)"
        if self._quiet():
            return self._copy_do(src, dst, data)
        default = split_path(dst)[1] or split_path(src)[1]
        return self.ask(
            f"Destination filename [{default}]? ", lambda _answer: self._copy_do(src, dst, data)
        )

    def _copy_do(self, src: str, dst: str, data: bytes) -> str:
        if dst == "system:running-config":
            return self._merge(src, data)
        if dst == "nvram:startup-config":
            if src == "system:running-config":
                self.device.save()
                return "Building configuration...\n[OK]"
            with self.device.lock:
                self.device.startup = data.decode("utf-8", "replace")
            return _bytes_copied(len(data))
        if dst == "null:":
            return ""
        if dst.endswith((":", ":/")):
            dst = dst.rstrip("/") + "/" + split_path(src)[1]
        error = self.device.write_file(dst, data)
        return error or _bytes_copied(len(data))

    def _merge(self, src: str, data: bytes) -> str:
        errors = self.device.merge(data.decode("utf-8", "replace"))
        self.device.config_changed(self.username, self.source, self.line_no, origin=src)
        if self.device.faults.drop_on_commit:
            self.drop()
        out = [f"{bad.rsplit(': ', 1)[0]}\n^\n{INVALID}" for bad in errors]
        out.append(_bytes_copied(len(data)))
        return "\n".join(out)

    # ----------------------------------------------------- configure replace
    def configure_replace(self, args: list[str]) -> str:
        if not args:
            return INCOMPLETE
        path, options = args[0], [a.lower() for a in args[1:]]
        minutes = None
        for keyword in ("timer", "time"):
            if keyword in options:
                index = options.index(keyword)
                if index + 1 >= len(options) or not options[index + 1].isdigit():
                    return INCOMPLETE
                minutes = int(options[index + 1])
        revert_on_error = "trigger" in options and "error" in options
        data = self.device.read_file(_file_alias(path))
        if data is None:
            return f"%Error opening {path} (No such file or directory)"
        if (minutes is not None or revert_on_error) and self.device.archive_base() is None:
            return "%Please turn config archive on before using Rollback Confirmed Change"

        def proceed(answer: str = "y") -> str:
            if answer.strip().lower() not in ("y", "yes"):
                return ""
            return self._replace_do(path, data.decode("utf-8", "replace"), minutes,
                                    revert_on_error, "list" in options)  # fmt: skip

        if "force" in options:
            return proceed()
        return self.ask(_REPLACE_BANNER, proceed)

    def _replace_do(
        self, path: str, text: str, minutes: int | None, revert_on_error: bool, listing: bool
    ) -> str:
        device = self.device
        with device.lock:
            before = device.running.copy()
            if minutes is not None:
                error = device.start_revert(self.username, minutes)
                if error:
                    return error
            errors = device.replace(text)
            if errors and revert_on_error:
                device.running = before
                if minutes is not None:
                    device.confirm(self.username)
                return (
                    "Failed to apply command " + errors[0].rsplit(": ", 1)[0] + "\n"
                    "Rollback aborted: reverting to the original configuration...\n"
                    "The original configuration has been successfully restored."
                )
            diff = contextual_diff(before, device.running)
        device.config_changed(self.username, self.source, self.line_no, origin=path)
        if device.faults.drop_on_commit:
            self.drop()
        out: list[str] = []
        if listing:
            out += ["!Pass 1", "!List of Commands:", *diff.splitlines()[1:], "end"]
        out += [f"Failed to apply command {e.rsplit(': ', 1)[0]}" for e in errors]
        out += ["Total number of passes: 1", "Rollback Done"]
        return "\n".join(out)

    # ---------------------------------------------------------------- show
    def show(self, args: list[str], line: str) -> str:  # noqa: PLR0911 - the keyword table
        """``show ...``: the keywords are resolved once, as IOS does, whatever the abbreviation.

        The configs, the archive and the flash listing are rendered from the device
        here (and need privilege 15, except the flash listing); everything else by
        the renderers of :mod:`~netwarden.lab.sim.shows`.
        """
        if not args:
            return SHOW_ALONE
        found = resolve(args)
        if found.ambiguous:
            return f'{_AMBIGUOUS}  "{line.partition("|")[0].strip()}"'
        keyword = found.path[0] if found.path else ""
        if keyword in _PRIVILEGED_SHOWS and self.privilege < 15:
            return invalid_at(self.prompt(), word_column(line, 1))
        first = 1 + len(found.path)  # word number of found.rest[0] in line
        if keyword == "running-config":  # "all" and "interface" are keywords of the tree
            return self._show_running([*found.path[1:], *found.rest], line, 2)
        if keyword == "startup-config":
            if found.rest:
                return invalid_at(self.prompt(), word_column(line, first))
            return self.device.render_startup()
        if keyword == "archive":
            return self._show_archive(found.rest, line, first)
        if keyword == "flash:":
            return self.device.flash.dir_text("flash:/")
        if keyword == "privilege" and not found.rest:
            return f"Current privilege level is {self.privilege}"
        output = None
        if found.renderer is not None:
            output = found.renderer(build_context(self.device, self.line_no), found.rest)
        if output is None:
            # the caret goes under the first word IOS could not take: an unknown
            # keyword or argument, else the last keyword (a command it cannot render)
            return invalid_at(self.prompt(), word_column(line, first if found.rest else first - 1))
        return output

    def _show_running(self, args: list[str], line: str, first: int) -> str:
        """``show running-config [all]`` and ``show running-config interface NAME``."""
        words = [word.lower() for word in args]
        if not words or (len(words) == 1 and "all".startswith(words[0])):
            return self.device.render_running()
        if "interface".startswith(words[0]):
            if len(words) == 1:
                return INCOMPLETE
            return self._show_run_interface(" ".join(args[1:]))
        return invalid_at(self.prompt(), word_column(line, first))

    def _show_run_interface(self, name: str) -> str:
        full = interface_name(name)
        with self.device.lock:
            config = self.device.running.render_body()
        section = interface_section(config, full) if full else None
        if section is None:
            return INVALID
        body = section.removeprefix("!\n")
        return f"Building configuration...\n\nCurrent configuration : {len(body)} bytes\n!\n{body}"

    def _show_archive(self, args: list[str], line: str, first: int) -> str:  # noqa: PLR0911 - subcommands
        """``show archive ...``; ``args[0]`` is word number ``first`` of ``line``."""
        if not args:
            return self.device.show_archive()
        words = [a.lower() for a in args]
        if not "config".startswith(words[0]) or len(words) < 2:
            return invalid_at(self.prompt(), word_column(line, first))
        if "differences".startswith(words[1]) and len(words[1]) >= 3:
            files = args[2:4]
            old = self._tree_of(files[0] if files else "nvram:startup-config")
            new = self._tree_of(files[1] if len(files) > 1 else "system:running-config")
            if isinstance(old, str):
                return old
            if isinstance(new, str):
                return new
            return contextual_diff(old, new)
        if "incremental-diffs".startswith(words[1]) and len(words[1]) >= 3:
            if len(args) < 3:
                return INCOMPLETE
            data = self.device.read_file(args[2])
            if data is None:
                return f"%Error opening {args[2]} (No such file or directory)"
            return self.device.incremental(data.decode("utf-8", "replace"))
        if "rollback".startswith(words[1]) and words[2:3] == ["timer"]:
            return self.device.rollback_timer_text()
        return invalid_at(self.prompt(), word_column(line, first + 1))

    def _tree_of(self, path: str) -> ConfigTree | str:
        alias = _file_alias(path)
        if alias == "system:running-config":
            with self.device.lock:
                return self.device.running.copy()
        data = self.device.read_file(alias)
        if data is None:
            return f"%Error opening {path} (No such file or directory)"
        return ConfigTree.build(data.decode("utf-8", "replace"), self.device.physical)

    # -------------------------------------------------------------- filters
    def apply_filter(self, output: str, pipe: str, line: str) -> str:  # noqa: PLR0911 - filters
        if output.startswith(_AMBIGUOUS):
            return output  # an error, not output: IOS prints it whatever the filter
        kind, _space, pattern = pipe.partition(" ")
        matches = [f for f in _FILTERS if f.startswith(kind.lower())]
        if len(matches) != 1 or (not pattern.strip() and matches[0] != "count"):
            return invalid_at(self.prompt(), line.index(pipe))
        try:
            regex = re.compile(pattern.strip())
        except re.error:
            regex = re.compile(re.escape(pattern.strip()))
        lines = output.splitlines()
        which = matches[0]
        if which == "include":
            return "\n".join(x for x in lines if regex.search(x))
        if which == "exclude":
            return "\n".join(x for x in lines if not regex.search(x))
        if which == "count":
            return (
                f"Number of lines which match regexp = {sum(1 for x in lines if regex.search(x))}"
            )
        if which == "begin":
            for index, text in enumerate(lines):
                if regex.search(text):
                    return "\n".join(lines[index:])
            return ""
        return _section(lines, regex)


def _section(lines: list[str], regex: re.Pattern[str]) -> str:
    out: list[str] = []
    index = 0
    while index < len(lines):
        text = lines[index]
        if text and not text.startswith(" ") and regex.search(text):
            out.append(text)
            index += 1
            while index < len(lines) and lines[index].startswith(" "):
                out.append(lines[index])
                index += 1
            continue
        if text.startswith(" ") and regex.search(text):
            out.append(text)
        index += 1
    return "\n".join(out)
