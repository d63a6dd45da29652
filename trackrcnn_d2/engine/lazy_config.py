"""detectron2's LazyConfig files (``configs/*.py``: ``LazyCall``, ``instantiate``) for
``train_net.py`` and ``demo.py``, which take them beside the yaml configs, by the file's
extension: the config from the file and ``key=value`` overrides, checked so that a mistake is one
message naming the file or the override (detectron2 raises from deep inside omegaconf or hydra,
and silently adds a mistyped key).

A LazyConfig for these scripts follows detectron2's layout (``tools/lazyconfig_train_net.py``):
``model``, ``dataloader.train`` / ``dataloader.test`` / ``dataloader.evaluator``, ``optimizer``,
``lr_multiplier`` and ``train`` (detectron2's ``configs/common/train.py``), plus ``tracker``: the
tracker's ``params`` (:class:`~trackrcnn_d2.tracking.TrackerParams`), ``flow``,
``mask_threshold`` and ``class_map``, which the evaluator and demo.py use.
"""
import inspect
import os
from typing import Any, Dict, Sequence

from trackrcnn_d2.utils.cli import ConfigError

__all__ = [
    "LAZY_CONFIG_EXTENSION",
    "TRAIN_KEYS",
    "build_part",
    "is_lazy_config",
    "require_keys",
    "load_lazy_config",
    "check_lazy_values",
    "flat_config",
    "target_name",
    "tracker_uses_flow",
]

LAZY_CONFIG_EXTENSION = ".py"

# The keys of ``train`` that train_net.py reads: detectron2's configs/common/train.py, its optional
# seed and cudnn_benchmark, and ours (the classes of init_checkpoint for fine-tuning, inference
# precision and TF32 on CUDA: the yaml configs' MODEL.WEIGHTS_CLASSES, TEST.PRECISION and
# MODEL.ALLOW_TF32).
TRAIN_KEYS = (
    "output_dir",
    "init_checkpoint",
    "init_checkpoint_classes",
    "max_iter",
    "amp",
    "ddp",
    "checkpointer",
    "eval_period",
    "log_period",
    "device",
    "seed",
    "cudnn_benchmark",
    "test_precision",
    "allow_tf32",
)


def is_lazy_config(path: str) -> bool:
    """Whether ``path`` is a LazyConfig (a Python file) rather than a yaml config."""
    return str(path).endswith(LAZY_CONFIG_EXTENSION)


def target_name(target: Any) -> str:
    """``_target_`` of a LazyCall node as a dotted name (as LazyConfig.save writes it)."""
    if isinstance(target, str):
        return target
    from detectron2.utils.registry import _convert_target_to_string

    try:
        return _convert_target_to_string(target)
    except Exception:  # an object without a name
        return repr(target)


def flat_config(node, prefix: str = "") -> Dict[str, Any]:
    """``{"train.max_iter": 90000, "model._target_": "...TrackRCNN", ...}``: the leaves of a
    LazyConfig, interpolations unresolved (``"${..num_classes}"``), targets as dotted names,
    lists as lists."""
    from omegaconf import DictConfig, ListConfig

    items = {}
    if isinstance(node, DictConfig):
        for key in node.keys():
            value = node._get_node(key)
            items.update(flat_config(value, f"{prefix}{key}."))
        return items
    if isinstance(node, ListConfig):
        if all(not isinstance(v, (DictConfig, ListConfig)) for v in node._iter_ex(resolve=False)):
            return {prefix[:-1]: _leaf(node)}
        for i, value in enumerate(node._iter_ex(resolve=False)):
            items.update(flat_config(value, f"{prefix}{i}."))
        return items
    return {prefix[:-1]: _leaf(node)}


def _leaf(node) -> Any:
    from omegaconf import ListConfig, OmegaConf

    if isinstance(node, ListConfig):
        return [_leaf(v) for v in node._iter_ex(resolve=False)]
    value = node._value() if OmegaConf.is_config(node) or hasattr(node, "_value") else node
    if callable(value) and not isinstance(value, str):
        return target_name(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _load_file(path: str):
    from detectron2.config import LazyConfig

    try:
        return LazyConfig.load(path)
    except Exception as e:
        cause = e.__cause__ if isinstance(e, SyntaxError) and e.__cause__ else e
        line = _line_in(path, cause)
        where = f"{path}{f', line {line}' if line else ''}"
        what = cause.msg if isinstance(cause, SyntaxError) else cause
        raise ConfigError(
            f"{where}: cannot load this LazyConfig: {type(cause).__name__}: {what}"
        ) from None


def _line_in(path: str, error: BaseException):
    """The line of ``path`` where ``error`` was raised (its traceback), or None."""
    if isinstance(error, SyntaxError) and error.filename in (path, "<unknown>", None):
        return error.lineno  # detectron2 parses the file's text, without its name
    line, traceback = None, error.__traceback__
    while traceback is not None:
        if os.path.abspath(traceback.tb_frame.f_code.co_filename) == os.path.abspath(path):
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def _accepts(target: Any, name: str) -> bool:
    """Whether the callable ``target`` (or its dotted name) takes a keyword argument ``name``.
    A class whose ``__init__`` passes ``**kwargs`` on (``TrackStandardROIHeads`` to detectron2's
    ``StandardROIHeads``) takes what the first ``__init__`` without ``**kwargs`` up its MRO
    takes."""
    from detectron2.utils.registry import locate

    try:
        function = locate(target) if isinstance(target, str) else target
        inits = [
            vars(cls)["__init__"]
            for cls in inspect.getmro(function)
            if cls is not object and "__init__" in vars(cls)
        ] if inspect.isclass(function) else [function]  # fmt: skip
        for init in inits:
            parameters = inspect.signature(init).parameters.values()
            if any(p.name == name and p.kind is not p.VAR_POSITIONAL for p in parameters):
                return True
            if not any(p.kind is p.VAR_KEYWORD for p in parameters):
                return False
    except Exception:  # no signature to check: let the call decide
        pass
    return True


def _check_new_keys(cfg, before: Sequence[str], override: str) -> None:
    """An override may set a key that the config lacks only where it is used: an argument of
    the LazyCall it is in, or one of :data:`TRAIN_KEYS`; otherwise it is a mistyped key."""
    from omegaconf import OmegaConf

    leaves = set(before)
    containers = {""} | {
        ".".join(key.split(".")[:i]) for key in leaves for i in range(1, key.count(".") + 1)
    }
    for key in flat_config(cfg):
        if key in leaves:
            continue
        parts = key.split(".")
        depth = max(i for i in range(len(parts)) if ".".join(parts[:i]) in containers)
        if ".".join(parts[: depth + 1]) in leaves:
            continue  # a value replaced by a mapping
        parent_key, name = ".".join(parts[:depth]), parts[depth]
        if parent_key == "train" and name in TRAIN_KEYS:
            continue
        parent = OmegaConf.select(cfg, parent_key) if parent_key else cfg
        if OmegaConf.is_dict(parent) and "_target_" in parent:
            target = parent._get_node("_target_")._value()
            if _accepts(target, name):
                continue
            raise ConfigError(
                f"{override}: {target_name(target)} ({parent_key}) takes no argument {name!r}"
            )
        known = [str(k) for k in parent.keys() if k != name] if OmegaConf.is_dict(parent) else []
        raise ConfigError(
            f"{override}: {parent_key or 'the config'} has no key {name!r} (it has "
            f"{', '.join(known) or 'none'}); a mistyped key?"
        )


def _apply_override(cfg, override: str) -> None:
    from detectron2.config import LazyConfig

    if "=" not in override:
        raise ConfigError(
            f"{override!r}: overrides of a LazyConfig are key=value, e.g. train.max_iter=1000 "
            "train.device=cpu (KEY VALUE pairs are for the yaml configs)"
        )
    before = list(flat_config(cfg))
    try:
        LazyConfig.apply_overrides(cfg, [override])
    except Exception as e:
        message = " ".join(str(e).split()) or type(e).__name__
        raise ConfigError(f"{override}: {message}") from None
    _check_new_keys(cfg, before, override)


def load_lazy_config(path: str, overrides: Sequence[str] = ()):
    """The LazyConfig of the file ``path`` with ``overrides`` (detectron2's ``key=value``, hydra's
    syntax) applied. Raises :class:`ConfigError` naming the file (and the line) when it cannot
    be loaded, or the override that cannot be applied or sets a key the config does not have
    (a mistyped key: omegaconf would add it, and nothing would read it)."""
    if not os.path.isfile(path):
        what = "is a folder" if os.path.isdir(path) else "not found"
        raise ConfigError(f"config file {path} {what}; the shipped ones are in configs/")
    cfg = _load_file(path)
    for override in overrides:
        _apply_override(cfg, override)
    check_lazy_values(cfg, path, overrides)
    return cfg


def check_lazy_values(cfg, path: str, overrides: Sequence[str] = ()) -> None:
    """The rules of the yaml configs' keys (:data:`trackrcnn_d2.config_values.VALUE_RULES`)
    for the LazyConfig keys that hold the same values
    (:data:`~trackrcnn_d2.config_values.LAZY_CONFIG_KEYS`: ``tracker.params.*``,
    ``optimizer.lr``, ``train.max_iter``, ...); a value outside its rule is a
    :class:`ConfigError` naming the key, the value and ``path`` or the command line. Absent
    keys, None and values that only instantiation resolves are left to the callable."""
    from omegaconf import OmegaConf

    from trackrcnn_d2.config_values import LAZY_CONFIG_KEYS, check_value

    overridden = {override.split("=", 1)[0].lstrip("+~") for override in overrides}
    for key, rule_key in LAZY_CONFIG_KEYS.items():
        try:
            value = OmegaConf.select(cfg, key, default=None)
            if OmegaConf.is_list(value):
                value = OmegaConf.to_container(value, resolve=True)
        except Exception:  # an interpolation of something not yet there
            continue
        if value is None or OmegaConf.is_dict(value):  # absent, or a LazyCall to build it
            continue
        check_value(key, value, "command line" if key in overridden else path, rule_key)
        if isinstance(value, float) and value.is_integer() and _is_whole(rule_key):
            OmegaConf.update(cfg, key, int(value))  # train.max_iter=1e4: a count, as in yaml


def _is_whole(rule_key) -> bool:
    from trackrcnn_d2.config_values import VALUE_RULES, ValueRule

    rule = rule_key if isinstance(rule_key, ValueRule) else VALUE_RULES[rule_key]
    return rule.whole or rule.odd


def build_part(cfg, key: str):
    """``instantiate`` of the node at ``key`` (e.g. "tracker.params"); a mistake in it (an
    argument its callable does not take, a value it refuses) is a :class:`ConfigError` naming
    the key. None for a missing key."""
    from detectron2.config import instantiate
    from omegaconf import OmegaConf

    node = OmegaConf.select(cfg, key)
    if node is None:
        return None
    try:
        return instantiate(node)
    except (TypeError, ValueError, KeyError, AssertionError) as e:
        message = str(e.args[0]) if e.args else type(e).__name__
        raise ConfigError(f"{key}: {message}") from None


def require_keys(cfg, keys: Sequence[str], path: str, why: str) -> None:
    """ConfigError naming the first of ``keys`` that the LazyConfig of ``path`` lacks."""
    from omegaconf import OmegaConf

    missing = object()
    for key in keys:
        if OmegaConf.select(cfg, key, default=missing) is missing:
            raise ConfigError(
                f"{path} has no {key}, which {why} needs (detectron2's layout: model, "
                "dataloader.train/test/evaluator, optimizer, lr_multiplier, train; and tracker)"
            )


def tracker_uses_flow(cfg) -> bool:
    """Whether the tracker of a LazyConfig (``tracker.params``) warps masks with optical flow."""
    return build_part(cfg, "tracker.params").uses_flow
