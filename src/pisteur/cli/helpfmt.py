"""Readable ``--help``: metavars a user understands instead of Python types.

Typer prints each option's Python type (``<bool>``, ``<list[Path]>``, ``<str>``) and a required argument as
``{query}``. Every command registered on the app is built with ``PisteurCommand``, which gives each option
and argument without an explicit metavar a conventional one: ``QUERY``, ``[PATHS...]``, ``N``, ``TEXT``,
``PATH``, and nothing for on/off flags. An explicit ``metavar=`` always wins; choices keep Typer's list.
"""

from __future__ import annotations

from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

_NAMES: dict[Any, str] = {int: "N", float: "X", str: "TEXT", Path: "PATH"}


class _Argument(TyperArgument):
    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        return name if self.required else f"[{name}]"

    def display_type_rich(self, ctx: Any) -> str | None:
        return None  # the name column already says QUERY, PATHS...


def _element(tp: Any) -> Any:
    """``X`` from ``X | None``, ``list[X]``, ``list[X] | None``."""
    for _ in range(3):
        origin = get_origin(tp)
        if origin in (UnionType, Union):
            args = [a for a in get_args(tp) if a is not NoneType]
            tp = args[0] if len(args) == 1 else tp
        elif origin in (list, tuple) and get_args(tp):
            tp = get_args(tp)[0]
        else:
            break
    return tp


def metavar_for(param: Any) -> str | None:
    """The metavar for a built parameter; ``None`` keeps Typer's (choices, dates, tuples...)."""
    if isinstance(param, TyperArgument):
        return (param.name or "value").upper() + ("..." if param.nargs != 1 else "")
    if isinstance(param, TyperOption) and param.is_flag:
        return ""
    desc = getattr(param, "type_descriptor", None)
    if desc is None or desc.is_choice or desc.is_tuple or desc.is_datetime:
        return None
    if desc.is_path:
        return "PATH"
    return _NAMES.get(_element(desc.annotation))


def _quiet_help(option: Any) -> Any:
    if option is not None:
        option.metavar = ""
    return option


def _tidy(params: list[Any]) -> None:
    for p in params:
        if p.metavar is None:
            p.metavar = metavar_for(p)
        if type(p) is TyperArgument:
            p.__class__ = _Argument  # same fields; a usage line without Typer's {braces}


class PisteurCommand(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy(self.params)

    def get_help_option(self, ctx: Any) -> Any:
        return _quiet_help(super().get_help_option(ctx))


class PisteurGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy(self.params)

    def get_help_option(self, ctx: Any) -> Any:
        return _quiet_help(super().get_help_option(ctx))


def tidy_metavars(app: typer.Typer) -> None:
    """Build ``app``, its commands and its sub-groups with the classes above."""
    if app.info.cls in (None, TyperGroup) or not isinstance(app.info.cls, type):
        app.info.cls = PisteurGroup
    for cmd in app.registered_commands:
        if cmd.cls in (None, TyperCommand):
            cmd.cls = PisteurCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            tidy_metavars(group.typer_instance)
