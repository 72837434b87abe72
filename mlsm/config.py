"""Typed configuration: nested dataclasses read from YAML, with explicit ``key=value`` overrides.

The config classes themselves live next to what they configure (models, stages); this module
only knows how to turn a YAML mapping into any tree of dataclasses and back::

    @dataclass
    class Train:
        lr: float = 2e-4
        betas: tuple[float, float] = (0.9, 0.999)

    @dataclass
    class Experiment:
        train: Train = field(default_factory=Train)

    cfg = load_config(Experiment, "configs/vae.yaml", ["train.lr=1e-4"])

Rules (each violation raises :class:`ConfigError` naming the dotted key and its source):

* unknown keys are errors (a typo never silently falls back to a default);
* values are checked against the annotations: ``int``, ``float`` (an ``int`` is accepted and
  converted), ``str``, ``bool`` (never ``0``/``1``), ``pathlib.Path`` (from ``str``),
  ``list[T]``, ``tuple[T, ...]``, ``tuple[T1, T2]``, ``dict[str, T]``, ``Optional[T]`` /
  ``T | None``, ``Literal[...]``, ``Any`` and nested dataclasses (from a mapping);
* PyYAML follows YAML 1.1, where ``1e-4`` (no dot) is a *string*; a ``float`` field therefore
  also accepts a string that spells a decimal number, so ``train.lr=1e-4`` works;
* fields without a default must be given;
* an override ``a.b.c=value`` parses ``value`` with ``yaml.safe_load`` and replaces that key
  (a mapping value replaces the whole sub-section).
"""
from __future__ import annotations

import collections.abc
import dataclasses
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Sequence, TypeVar

import yaml

from mlsm.atomic import write_text_atomic

__all__ = ["ConfigError", "load_config", "config_from_dict", "dump_config", "save_config",
           "parse_override"]

T = TypeVar("T")

_FLOAT_STRING = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|nan)$",
                           re.IGNORECASE)


class ConfigError(ValueError):
    """A config file or override does not match the dataclass tree it is read into."""


class _Sources:
    """Remembers where each dotted key came from (the file, or the override that set it)."""

    def __init__(self, default: str):
        self.default = default
        self.by_prefix: dict[str, str] = {}

    def of(self, key: str) -> str:
        best, best_len = self.default, -1
        for prefix, source in self.by_prefix.items():
            if (key == prefix or key.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = source, len(prefix)
        return best


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr=1e-4"`` -> ``(["train", "lr"], "1e-4")``; the value goes through ``yaml.safe_load``."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {text!r}: expected the form section.key=value")
    parts = key.split(".")
    if any(not part for part in parts):
        raise ConfigError(f"override {text!r}: empty key component in {key!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({exc})") from None
    return parts, value


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _is_optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _convert(tp: Any, value: Any, key: str, sources: _Sources) -> Any:
    """Check ``value`` against annotation ``tp`` and return it converted (ints -> float, lists -> tuple)."""

    def fail(expected: str) -> typing.NoReturn:
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise ConfigError(f"{key}: expected {expected}, got {type(value).__name__} {shown} "
                          f"({sources.of(key)})")

    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            fail(f"a mapping for {tp.__name__}")
        return _build(tp, value, key, sources)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            fail(_type_name(tp))
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _convert(option, value, key, sources)
            except ConfigError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        fail(_type_name(tp))
    if origin is typing.Literal:
        if not any(type(value) is type(option) and value == option for option in args):
            fail("one of " + ", ".join(repr(a) for a in args))
        return value
    if origin in (list, collections.abc.Sequence) or tp is list:
        if not isinstance(value, (list, tuple)):
            fail(_type_name(tp))
        item = args[0] if args else Any
        return [_convert(item, v, f"{key}[{i}]", sources) for i, v in enumerate(value)]
    if origin is tuple or tp is tuple:
        if not isinstance(value, (list, tuple)):
            fail(_type_name(tp))
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            item = args[0] if args else Any
            return tuple(_convert(item, v, f"{key}[{i}]", sources) for i, v in enumerate(value))
        if len(value) != len(args):
            fail(f"{_type_name(tp)} with {len(args)} items")
        return tuple(_convert(a, v, f"{key}[{i}]", sources) for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            fail(_type_name(tp))
        key_type, item_type = args if args else (Any, Any)
        return {_convert(key_type, k, f"{key}.{k}", sources): _convert(item_type, v, f"{key}.{k}", sources)
                for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            fail("bool")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail("int")
        return value
    if tp is float:
        if isinstance(value, bool):
            fail("float")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str) and _FLOAT_STRING.match(value.strip()):
            return float(value)
        fail("float")
    if tp is str:
        if not isinstance(value, str):
            fail("str")
        return value
    if tp is Path or (isinstance(tp, type) and issubclass(tp, os.PathLike)):
        if not isinstance(value, (str, os.PathLike)):
            fail("a path string")
        return Path(value)
    if isinstance(tp, type):
        if not isinstance(value, tp):
            fail(tp.__name__)
        return value
    raise ConfigError(f"{key}: unsupported annotation {_type_name(tp)} in the config class")


def _build(cls: type[T], data: dict, prefix: str, sources: _Sources) -> T:
    types_by_name = _field_types(cls)
    for name in data:
        if name not in types_by_name:
            dotted = f"{prefix}.{name}" if prefix else str(name)
            known = ", ".join(types_by_name) or "(none)"
            raise ConfigError(f"unknown key {dotted!r} ({sources.of(dotted)}); "
                              f"{cls.__name__} has: {known}")
    kwargs = {}
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        dotted = f"{prefix}.{field.name}" if prefix else field.name
        if field.name in data:
            kwargs[field.name] = _convert(types_by_name[field.name], data[field.name], dotted, sources)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing required key {dotted!r} ({sources.of(dotted)})")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:  # a __post_init__ check of the config class
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{prefix or cls.__name__}: {exc} ({sources.of(prefix)})") from exc


def _apply_override(cls: type, data: dict, text: str, sources: _Sources) -> None:
    parts, value = parse_override(text)
    node, node_type = data, cls
    for depth, part in enumerate(parts):
        dotted = ".".join(parts[: depth + 1])
        if _is_optional(node_type):
            node_type = next(a for a in typing.get_args(node_type) if a is not type(None))
        if dataclasses.is_dataclass(node_type) and isinstance(node_type, type):
            field_types = _field_types(node_type)
            if part not in field_types:
                raise ConfigError(f"override {text!r}: unknown key {dotted!r}; "
                                  f"{node_type.__name__} has: {', '.join(field_types) or '(none)'}")
            child_type = field_types[part]
        elif typing.get_origin(node_type) is dict or node_type is dict:
            args = typing.get_args(node_type)
            child_type = args[1] if args else Any
        else:
            raise ConfigError(f"override {text!r}: {'.'.join(parts[:depth])!r} is not a section")
        if depth == len(parts) - 1:
            node[part] = value
            sources.by_prefix[dotted] = f"override {text!r}"
            return
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise ConfigError(f"override {text!r}: {dotted!r} is not a mapping "
                              f"({sources.of(dotted)})")
        node, node_type = child, child_type


def config_from_dict(cls: type[T], data: dict, source: str = "<dict>",
                     overrides: Sequence[str] = ()) -> T:
    """Build the dataclass tree ``cls`` from a plain mapping (``source`` names it in errors)."""
    if not (dataclasses.is_dataclass(cls) and isinstance(cls, type)):
        raise TypeError(f"config class must be a dataclass type, got {cls!r}")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: top level must be a mapping, got {type(data).__name__}")
    sources = _Sources(source)
    data = _deep_copy_mapping(data)
    for text in overrides:
        _apply_override(cls, data, text, sources)
    return _build(cls, data, "", sources)


def load_config(cls: type[T], path: str | os.PathLike | None = None,
                overrides: Sequence[str] = ()) -> T:
    """Read YAML ``path`` (or only the defaults when ``None``) into ``cls``, then apply overrides.

    Raises :class:`ConfigError` on a missing/invalid file, unknown keys, wrong types, missing
    required keys and malformed overrides; the message names the dotted key and the file or
    override it came from.
    """
    if isinstance(overrides, str):
        raise TypeError("overrides must be a list of 'key=value' strings, not one string")
    if path is None:
        return config_from_dict(cls, {}, "<defaults>", overrides)
    path = Path(path)
    return config_from_dict(cls, _read_yaml(path), str(path), overrides)


def _deep_copy_mapping(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy_mapping(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy_mapping(v) for v in value]
    return value


def dump_config(obj: Any) -> Any:
    """Dataclass tree -> plain YAML-safe data (dicts, lists, str/int/float/bool/None).

    Tuples become lists and paths strings, so ``config_from_dict(type(obj), dump_config(obj))``
    gives back an equal object.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: dump_config(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    if isinstance(obj, dict):
        return {dump_config(k): dump_config(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [dump_config(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise TypeError(f"cannot dump {type(obj).__name__} value {obj!r} to a config")


def save_config(obj: Any, path: str | os.PathLike) -> None:
    """Write ``dump_config(obj)`` as YAML to ``path`` atomically (temp file + rename)."""
    path = Path(path)
    text = yaml.safe_dump(dump_config(obj), sort_keys=False, default_flow_style=None)
    write_text_atomic(path, text)
