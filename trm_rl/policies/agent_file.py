"""Read an SB3 ``agent.zip`` without running code from it, and restore it into a fresh agent.

SB3's ``load`` unpickles: the ``data`` entry keeps every attribute that is not plain JSON (the
policy class, the spaces, the schedules, the episode buffer) as base64 cloudpickle, and
unpickling a file someone sent you can run any code. Here the ``data`` entry is read as plain
JSON and its pickled values are dropped, by name; the weights are read with
``torch.load(weights_only=True)``. What the dropped values described comes from the run's own
``config.json`` instead: build the agent as the run did, then put the file's weights, optimizer
state and counters into it::

    agent_file = read_agent_file(run_dir / "agent.zip")
    agent, _ = build_agent(cfg, venv, device)  # from the run's config.json
    restore_agent(agent, agent_file)
    agent.learn(n, reset_num_timesteps=False)

A restored agent continues like an SB3-loaded one given an env (the envs restart their
episodes: SB3 drops the saved last observation too) except for the window of episode
statistics (``ep_info_buffer``, pickled): ``rollout/ep_rew_mean`` after a resume averages the
new episodes only, until the window fills again.
"""

from __future__ import annotations

import io
import json
import pickle
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from stable_baselines3.common.base_class import BaseAlgorithm

from envs.utils import check_float, check_int

__all__ = ["AgentFile", "read_agent_file", "restore_agent"]

DATA = "data"
POLICY = "policy.pth"
OPTIMIZER = "policy.optimizer.pth"
VARIABLES = "pytorch_variables.pth"
#: Integer counters that :func:`restore_agent` puts back (SB3 always saves ``num_timesteps``).
COUNTERS = ("num_timesteps", "_n_updates", "_episode_num")
#: Training seconds so far, saved with the agent by ``train_ppo``'s checkpoints.
TRAIN_SECONDS = "trm_train_seconds"
_SERIALIZED = ":serialized:"
#: What a fresh on-policy agent saves with torch: its state dicts, and no other variables.
_ON_POLICY_STATES = (["policy", "policy.optimizer"], [])
_DAMAGED = "the file is truncated, damaged or not an SB3 agent.zip; copy it again from the run"
_MISFIT = (
    "the agent.zip does not fit the run's config.json; the file is damaged or from another run"
)

Agent = TypeVar("Agent", bound=BaseAlgorithm)


@dataclass(frozen=True)
class AgentFile:
    """The trusted content of an SB3 ``agent.zip``: plain JSON values and tensors."""

    path: Path
    """The file read (named in every error)."""
    data: dict[str, Any]
    """Plain JSON values of the ``data`` entry (``num_timesteps``, ``_n_updates``, ``gamma``,
    ``trm_train_seconds`` ...); pickled values are left out."""
    dropped: tuple[str, ...]
    """Sorted names of the pickled values of ``data``, which were not loaded."""
    policy_state: dict[str, torch.Tensor]
    """``policy.state_dict()`` of the saved agent, on the CPU."""
    optimizer_state: dict[str, Any] | None
    """``policy.optimizer.state_dict()`` of the saved agent, or None when the file has none."""
    variables: dict[str, Any] | None
    """The ``pytorch_variables.pth`` entry (empty for PPO), or None when the file has none."""
    extra: tuple[str, ...] = ()
    """Names of other ``.pth`` entries, which were not loaded."""


# ------------------------------------------------------------------------------------ read
def read_agent_file(path: str | Path) -> AgentFile:
    """Read an ``agent.zip`` written by SB3's ``agent.save`` without unpickling any code.

    :param path: the file (``<run>/agent.zip``).
    :return: its plain data, the names of the pickled values left out, and its state dicts.
    :raises ValueError: naming the file, when it is missing, not a zip archive, truncated or
        damaged, lacks the ``data`` or ``policy.pth`` entry, holds bad JSON, or holds weights
        that are not a plain state dict (which may contain code; they are not loaded).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"{str(path)!r} does not exist or is not a file; pass the agent.zip of a trm-rl "
            "train-ppo run"
        )
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(
            f"{str(path)!r} is not a zip archive or is truncated ({e}); copy the agent.zip again "
            "from the run, or resume the run from an earlier copy"
        ) from None
    with archive:
        names = set(archive.namelist())
        for required in (DATA, POLICY):
            if required not in names:
                raise ValueError(f"{str(path)!r} has no {required!r} entry; {_DAMAGED}")
        data, dropped = _plain_data(_read(archive, DATA, path), path)
        policy_state = _tensor_dict(_torch_entry(archive, POLICY, path), POLICY, path)
        optimizer_state = None
        if OPTIMIZER in names:
            optimizer_state = _torch_entry(archive, OPTIMIZER, path)
            if not isinstance(optimizer_state, dict):
                raise ValueError(
                    f"{str(path)!r}: {OPTIMIZER!r} holds a {type(optimizer_state).__name__}, "
                    f"not an optimizer state dict; {_DAMAGED}"
                )
        variables = None
        if VARIABLES in names:
            variables = _torch_entry(archive, VARIABLES, path)
            if not isinstance(variables, dict):
                raise ValueError(
                    f"{str(path)!r}: {VARIABLES!r} holds a {type(variables).__name__}, not a "
                    f"dict; {_DAMAGED}"
                )
        known = {POLICY, OPTIMIZER, VARIABLES}
        extra = tuple(sorted(n for n in names if n.endswith(".pth") and n not in known))
    return AgentFile(path, data, dropped, policy_state, optimizer_state, variables, extra)


def _read(archive: zipfile.ZipFile, name: str, path: Path) -> bytes:
    try:
        return archive.read(name)
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        RuntimeError,
        NotImplementedError,
    ) as e:
        raise ValueError(
            f"{str(path)!r}: the {name!r} entry cannot be read ({e}); the file is truncated or "
            "damaged; copy it again from the run"
        ) from None


def _plain_data(raw: bytes, path: Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The ``data`` entry as JSON, without its pickled values (and their names)."""
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(
            f"{str(path)!r}: its 'data' entry is not valid JSON ({e}); {_DAMAGED}"
        ) from None
    if not isinstance(parsed, dict):
        raise ValueError(
            f"{str(path)!r}: its 'data' entry is a JSON {type(parsed).__name__}, not an object; "
            f"{_DAMAGED}"
        )
    dropped = tuple(sorted(k for k, v in parsed.items() if _holds_pickle(v)))
    return {k: v for k, v in parsed.items() if k not in dropped}, dropped


def _holds_pickle(value: Any) -> bool:
    """Whether a JSON value is, or contains, SB3's ``{":serialized:": base64 pickle}``."""
    if isinstance(value, dict):
        return _SERIALIZED in value or any(_holds_pickle(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_pickle(v) for v in value)
    return False


def _torch_entry(archive: zipfile.ZipFile, name: str, path: Path) -> Any:
    """``torch.load`` of one entry with ``weights_only=True``: tensors and plain containers."""
    raw = _read(archive, name, path)
    try:
        return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message advises weights_only=False: keep only the reason it refused
        reason = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\n|$)", str(e))
        why = f" ({reason.group(1).strip()})" if reason and reason.group(1).strip() else ""
        raise ValueError(
            f"{str(path)!r}: {name!r} is not a plain state dict of tensors{why}; it may contain "
            "code and was not loaded; use only agent files saved by trm-rl train-ppo, or ask the "
            "sender for the run again"
        ) from None
    except (RuntimeError, EOFError, ValueError, KeyError, TypeError) as e:
        raise ValueError(
            f"{str(path)!r}: {name!r} is not a readable torch file ({e}); {_DAMAGED}"
        ) from None


def _tensor_dict(value: Any, name: str, path: Path) -> dict[str, torch.Tensor]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()
    ):
        raise ValueError(
            f"{str(path)!r}: {name!r} holds a {type(value).__name__}, not a state dict of "
            f"tensors; {_DAMAGED}"
        )
    return dict(value)


# --------------------------------------------------------------------------------- restore
def restore_agent(agent: Agent, agent_file: AgentFile, strict: bool = True) -> Agent:
    """Put the weights, the optimizer state and the counters of a file into a fresh agent.

    ``agent`` must be built as the run built it (same algorithm class, policy and
    ``policy_kwargs``, from the run's ``config.json``); nothing of the file decides what is
    built. Restored: ``policy`` (``load_state_dict``), ``policy.optimizer`` (Adam's moments
    and step counts), ``num_timesteps``, ``_n_updates``, ``_episode_num`` and, when saved,
    ``trm_train_seconds``, so ``agent.learn(n, reset_num_timesteps=False)`` continues like an
    agent SB3 loaded with an env. Everything is checked before the agent is changed.

    :param agent: a freshly built on-policy SB3 agent (``PPO``, ``MaskablePPO``, ...).
    :param agent_file: what :func:`read_agent_file` read.
    :param strict: refuse missing or unexpected weights and a file without optimizer state;
        with False those are skipped (shapes must still match).
    :return: ``agent``, restored in place.
    :raises ValueError: naming the file, when it does not fit the agent (keys and shapes
        listed) or holds bad counters; or when the agent keeps state other than its policy
        and policy optimizer (off-policy algorithms), which this function does not restore.
    """
    path = str(agent_file.path)
    saves = agent._get_torch_save_params()
    if (list(saves[0]), list(saves[1])) != _ON_POLICY_STATES:
        raise ValueError(
            f"restore_agent restores on-policy agents (policy and policy.optimizer); a "
            f"{type(agent).__name__} also keeps {saves}; load {path!r} with SB3 only if you "
            "trust it"
        )
    counters = _counters(agent_file)
    misfit = _policy_misfit(agent.policy, agent_file.policy_state, strict)
    variables = [k for k, v in (agent_file.variables or {}).items() if v is not None]
    if strict and (agent_file.extra or variables):
        misfit.append(f"entries this agent does not have: {[*agent_file.extra, *variables]}")
    optimizer = agent.policy.optimizer
    if agent_file.optimizer_state is None:
        if strict:
            misfit.append(f"no {OPTIMIZER!r} entry (pass strict=False to keep a fresh optimizer)")
    else:
        misfit += _optimizer_misfit(optimizer, agent_file.optimizer_state)
    if misfit:
        raise ValueError(f"{path!r}: {_MISFIT}: " + "; ".join(misfit))
    if agent_file.optimizer_state is not None:
        try:
            optimizer.load_state_dict(agent_file.optimizer_state)
        except (ValueError, KeyError, TypeError, RuntimeError) as e:
            raise ValueError(f"{path!r}: {_MISFIT} (optimizer: {e})") from None
    agent.policy.load_state_dict(agent_file.policy_state, strict=strict)
    for key, value in counters.items():
        setattr(agent, key, value)
    if getattr(agent, "use_sde", False):  # as SB3's load: sample the exploration matrix
        agent.policy.reset_noise()
    return agent


def _counters(agent_file: AgentFile) -> dict[str, int | float]:
    path, data = str(agent_file.path), agent_file.data
    values: dict[str, int | float] = {}
    for key in (*COUNTERS, TRAIN_SECONDS):
        if key in agent_file.dropped:
            raise ValueError(
                f"{path!r}: {key} is stored as a pickled object, which is never loaded; use an "
                "agent.zip saved by trm-rl train-ppo"
            )
        if key not in data:
            if key == "num_timesteps":
                raise ValueError(f"{path!r}: its 'data' entry has no num_timesteps; {_DAMAGED}")
            continue
        try:
            if key == TRAIN_SECONDS:
                values[key] = check_float(key, data[key], low=0.0)
            else:
                values[key] = check_int(key, data[key], low=0)  # type: ignore[assignment]
        except ValueError as e:
            raise ValueError(f"{path!r}: {e}; {_DAMAGED}") from None
    return values


def _listed(label: str, items: list[str], limit: int = 5) -> list[str]:
    if not items:
        return []
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return [f"{label} {items[:limit]}{more}"]


def _policy_misfit(
    policy: torch.nn.Module, state: dict[str, torch.Tensor], strict: bool
) -> list[str]:
    """What keeps ``state`` from loading into ``policy`` (empty when it fits)."""
    expected = policy.state_dict()
    shapes = [
        f"{k}: {tuple(state[k].shape)} in the file, {tuple(expected[k].shape)} in the agent"
        for k in sorted(expected.keys() & state.keys())
        if state[k].shape != expected[k].shape
    ]
    problems = _listed("policy weights of other shapes:", shapes)
    if strict:
        problems += _listed(
            "policy weights missing from the file:", sorted(expected - state.keys())
        )
        problems += _listed(
            "policy weights the agent does not have:", sorted(state - expected.keys())
        )
    return problems


def _optimizer_misfit(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> list[str]:
    """What keeps ``state`` from loading into ``optimizer``: its groups and moment shapes."""
    groups, moments = state.get("param_groups"), state.get("state")
    if not isinstance(groups, list) or not isinstance(moments, dict):
        return [f"{OPTIMIZER!r} is not an optimizer state dict"]
    sizes = [len(g["params"]) for g in optimizer.param_groups]
    saved = [
        len(g["params"])
        if isinstance(g, dict)
        and isinstance(g.get("params"), list)
        and all(isinstance(k, int) for k in g["params"])
        else None
        for g in groups
    ]
    if saved != sizes:
        return [f"optimizer parameter groups of sizes {saved} in the file, {sizes} in the agent"]
    shapes = []
    for group, saved_group in zip(optimizer.param_groups, groups, strict=True):
        for param, key in zip(group["params"], saved_group["params"], strict=True):
            entry = moments.get(key, {})
            if not isinstance(entry, dict):
                return [f"optimizer state of parameter {key!r} is a {type(entry).__name__}"]
            shapes += [
                f"{key}.{name}: {tuple(value.shape)} in the file, {tuple(param.shape)} in the agent"
                for name, value in entry.items()
                if isinstance(value, torch.Tensor)
                and value.dim() > 0
                and value.shape != param.shape
            ]
    return _listed("optimizer moments of other shapes:", shapes)
