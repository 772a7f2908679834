"""``read_agent_file`` / ``restore_agent``: an SB3 agent.zip loaded without running its code."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import get_action_masks
from stable_baselines3.common.utils import set_random_seed

from trm_rl.policies.agent_file import AgentFile, read_agent_file, restore_agent
from trm_rl.policies.vec_env import make_sb3_vec_env

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ENV_ID = "trm_rl/Sudoku-4x4-v0"
SAVED_STEPS = 64  # two rollouts of 2 envs x 16 steps


class OpenOnUnpickle:
    """A pickle whose loading creates ``path`` (a stand-in for any code an attacker runs)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return open, (self.path, "w")


def make_venv() -> Any:
    return make_sb3_vec_env(ENV_ID, num_envs=2, seed=0)


def build(venv: Any, net_arch: tuple[int, ...] = (16,)) -> MaskablePPO:
    """The agent as a run's config would build it (the trusted side of a restore)."""
    return MaskablePPO(
        "MultiInputPolicy",
        venv,
        n_steps=16,
        batch_size=16,
        n_epochs=2,
        policy_kwargs=dict(net_arch=list(net_arch)),
        seed=0,
        device="cpu",
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[MaskablePPO, Path]:
    """A trained agent and its ``agent.zip`` (with the run's training seconds)."""
    agent = build(make_venv())
    agent.learn(SAVED_STEPS)
    agent.trm_train_seconds = 12.5
    path = tmp_path_factory.mktemp("agent") / "agent.zip"
    agent.save(path)
    return agent, path


def rewrite(src: Path, dst: Path, changes: dict[str, bytes | None]) -> Path:
    """Copy a zip with some entries replaced (None removes one)."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w") as new:
        for name in old.namelist():
            if name not in changes:
                new.writestr(name, old.read(name))
        for name, raw in changes.items():
            if raw is not None:
                new.writestr(name, raw)
    return dst


def data_with(src: Path, **values: Any) -> bytes:
    with zipfile.ZipFile(src) as archive:
        data = json.loads(archive.read("data"))
    data.update(values)
    return json.dumps(data).encode()


def pickled(obj: Any) -> dict[str, str]:
    """SB3's JSON form of a value that is not JSON: base64 cloudpickle."""
    return {":type:": str(type(obj)), ":serialized:": base64.b64encode(pickle.dumps(obj)).decode()}


def same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)


def outputs(agent: MaskablePPO, venv: Any) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
    """Deterministic actions, action probabilities and values on the env's first observations."""
    obs = venv.reset()
    masks = get_action_masks(venv)
    actions, _ = agent.predict(obs, action_masks=masks, deterministic=True)
    obs_t, _ = agent.policy.obs_to_tensor(obs)
    with torch.no_grad():
        probs = agent.policy.get_distribution(obs_t, action_masks=masks).distribution.probs
        values = agent.policy.predict_values(obs_t)
    return actions, probs, values


# ------------------------------------------------------------------------------- round trip
def test_read_keeps_plain_values_and_names_the_pickled_ones(saved) -> None:
    agent, path = saved
    agent_file = read_agent_file(path)
    assert isinstance(agent_file, AgentFile) and agent_file.path == path
    assert agent_file.data["num_timesteps"] == SAVED_STEPS == agent.num_timesteps
    assert agent_file.data["_n_updates"] == agent._n_updates > 0
    assert agent_file.data["trm_train_seconds"] == 12.5
    assert agent_file.data["n_steps"] == 16 and agent_file.data["gamma"] == agent.gamma
    assert {"policy_class", "observation_space", "lr_schedule"} <= set(agent_file.dropped)
    assert not set(agent_file.dropped) & set(agent_file.data)
    assert same_state(agent_file.policy_state, agent.policy.state_dict())
    assert agent_file.optimizer_state is not None and agent_file.optimizer_state["state"]
    assert all(t.device.type == "cpu" for t in agent_file.policy_state.values())


def test_restore_gives_the_saved_weights_optimizer_counters_and_actions(saved) -> None:
    agent, path = saved
    venv = make_venv()
    fresh = build(venv)
    assert not same_state(fresh.policy.state_dict(), agent.policy.state_dict())
    assert fresh.num_timesteps == 0 and not hasattr(fresh, "trm_train_seconds")
    assert restore_agent(fresh, read_agent_file(path)) is fresh
    assert same_state(fresh.policy.state_dict(), agent.policy.state_dict())
    mine, theirs = fresh.policy.optimizer.state_dict(), agent.policy.optimizer.state_dict()
    assert mine["state"].keys() == theirs["state"].keys()
    for key, moments in theirs["state"].items():
        assert all(torch.equal(mine["state"][key][k], v) for k, v in moments.items())
    assert (fresh.num_timesteps, fresh._n_updates, fresh._episode_num) == (
        agent.num_timesteps,
        agent._n_updates,
        agent._episode_num,
    )
    assert fresh.trm_train_seconds == 12.5
    actions, probs, values = outputs(fresh, venv)
    expected = outputs(agent, make_venv())
    assert np.array_equal(actions, expected[0])
    assert torch.equal(probs, expected[1]) and torch.equal(values, expected[2])


def test_a_restored_agent_continues_learning_like_an_sb3_loaded_one(saved) -> None:
    _, path = saved
    loaded = MaskablePPO.load(path, env=make_venv(), device="cpu")
    restored = restore_agent(build(make_venv()), read_agent_file(path))
    for agent in (loaded, restored):
        set_random_seed(0)
        agent.learn(32, reset_num_timesteps=False)
    assert restored.num_timesteps == loaded.num_timesteps == SAVED_STEPS + 32
    assert restored._n_updates == loaded._n_updates == read_agent_file(path).data["_n_updates"] + 2
    assert same_state(restored.policy.state_dict(), loaded.policy.state_dict())
    assert not same_state(restored.policy.state_dict(), read_agent_file(path).policy_state)


# ------------------------------------------------------------------------------- code in it
def test_a_pickle_in_data_is_dropped_and_never_run(saved, tmp_path: Path) -> None:
    _, path = saved
    marker = tmp_path / "ran"
    data = data_with(
        path,
        payload=pickled(OpenOnUnpickle(marker)),
        nested=[{"x": pickled(OpenOnUnpickle(marker))}],
    )
    crafted = rewrite(path, tmp_path / "agent.zip", {"data": data})
    agent_file = read_agent_file(crafted)
    assert {"payload", "nested"} <= set(agent_file.dropped)
    assert "payload" not in agent_file.data and "nested" not in agent_file.data
    agent = restore_agent(build(make_venv()), agent_file)
    assert agent.num_timesteps == SAVED_STEPS and not hasattr(agent, "payload")
    assert not marker.exists()
    # the file is live: SB3's own load runs the payload
    loaded = MaskablePPO.load(crafted, device="cpu")
    loaded.payload.close()
    assert marker.exists()


def test_a_pickle_in_place_of_a_counter_is_refused_and_never_run(saved, tmp_path: Path) -> None:
    _, path = saved
    marker = tmp_path / "ran"
    data = data_with(path, num_timesteps=pickled(OpenOnUnpickle(marker)))
    crafted = rewrite(path, tmp_path / "agent.zip", {"data": data})
    agent_file = read_agent_file(crafted)
    assert "num_timesteps" in agent_file.dropped
    with pytest.raises(ValueError, match=r"num_timesteps is stored as a pickled object"):
        restore_agent(build(make_venv()), agent_file)
    assert not marker.exists()


def test_code_in_policy_pth_is_refused_and_never_run(saved, tmp_path: Path) -> None:
    _, path = saved
    marker = tmp_path / "ran"
    buffer = io.BytesIO()
    torch.save(OpenOnUnpickle(marker), buffer)
    crafted = rewrite(path, tmp_path / "agent.zip", {"policy.pth": buffer.getvalue()})
    with pytest.raises(ValueError, match=r"may contain code and was not loaded") as info:
        read_agent_file(crafted)
    assert str(crafted) in str(info.value) and "weights_only=False" not in str(info.value)
    assert not marker.exists()
    # the payload is live: an unrestricted torch.load runs it
    torch.load(io.BytesIO(buffer.getvalue()), weights_only=False).close()
    assert marker.exists()


@pytest.mark.parametrize(
    ("entry", "obj", "message"),
    [
        ("policy.pth", [1, 2, 3], "holds a list, not a state dict of tensors"),
        ("policy.pth", {"w": 1.0}, "holds a dict, not a state dict of tensors"),
        ("policy.optimizer.pth", [1], "not an optimizer state dict"),
    ],
)
def test_plain_but_wrong_torch_entries_are_refused(
    saved, tmp_path: Path, entry: str, obj: Any, message: str
) -> None:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    crafted = rewrite(saved[1], tmp_path / "agent.zip", {entry: buffer.getvalue()})
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        read_agent_file(crafted)
    assert str(crafted) in str(info.value)


# ---------------------------------------------------------------------------- damaged files
def damaged(kind: str, src: Path, dst: Path) -> Path:
    raw = src.read_bytes()
    if kind == "missing":
        return dst
    if kind == "random bytes":
        dst.write_bytes(np.random.default_rng(0).bytes(len(raw)))
    elif kind.startswith("truncated"):  # a cut zip may end in the stored torch zip of an entry
        dst.write_bytes(raw[: {"end": -10, "tail": -200, "half": len(raw) // 2}[kind.split()[1]]])
    elif kind == "flipped bytes":
        with zipfile.ZipFile(src) as archive:
            info = archive.getinfo("policy.pth")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 64
        dst.write_bytes(
            raw[:start] + bytes(b ^ 0xFF for b in raw[start : start + 16]) + raw[start + 16 :]
        )
    elif kind == "no policy.pth":
        rewrite(src, dst, {"policy.pth": None})
    elif kind == "no data":
        rewrite(src, dst, {"data": None})
    elif kind == "bad JSON":
        rewrite(src, dst, {"data": b'{"num_timesteps": 64,'})
    elif kind == "JSON list":
        rewrite(src, dst, {"data": b"[1, 2]"})
    return dst


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "does not exist"),
        ("random bytes", "is not a zip archive or is truncated"),
        ("truncated end", "is not a zip archive or is truncated"),
        ("truncated tail", "has no 'data' entry; the file is truncated"),
        ("truncated half", "has no 'data' entry; the file is truncated"),
        ("flipped bytes", "the 'policy.pth' entry cannot be read"),
        ("no policy.pth", "has no 'policy.pth' entry"),
        ("no data", "has no 'data' entry"),
        ("bad JSON", "its 'data' entry is not valid JSON"),
        ("JSON list", "its 'data' entry is a JSON list"),
    ],
)
def test_damaged_files_raise_a_value_error_naming_the_file(
    saved, tmp_path: Path, kind: str, message: str
) -> None:
    path = damaged(kind, saved[1], tmp_path / "agent.zip")
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        read_agent_file(path)
    assert str(path) in str(info.value)


# ------------------------------------------------------------------------------- misfits
def test_an_agent_of_another_config_is_refused_and_left_unchanged(saved) -> None:
    path = saved[1]
    other = build(make_venv(), net_arch=(8,))
    before = {k: v.clone() for k, v in other.policy.state_dict().items()}
    with pytest.raises(ValueError, match=r"does not fit the run's config.json") as info:
        restore_agent(other, read_agent_file(path))
    assert "mlp_extractor.policy_net.0.weight" in str(info.value) and str(path) in str(info.value)
    assert same_state(other.policy.state_dict(), before) and other.num_timesteps == 0


def test_strict_refuses_a_missing_optimizer_and_extra_weights(saved, tmp_path: Path) -> None:
    agent, path = saved
    no_opt = rewrite(path, tmp_path / "no_opt.zip", {"policy.optimizer.pth": None})
    assert read_agent_file(no_opt).optimizer_state is None
    with pytest.raises(ValueError, match=r"no 'policy.optimizer.pth' entry"):
        restore_agent(build(make_venv()), read_agent_file(no_opt))
    loose = restore_agent(build(make_venv()), read_agent_file(no_opt), strict=False)
    assert same_state(loose.policy.state_dict(), agent.policy.state_dict())
    state = {**read_agent_file(path).policy_state, "extra.weight": torch.zeros(2)}
    extra = dataclasses.replace(read_agent_file(path), policy_state=state)
    with pytest.raises(ValueError, match=r"weights the agent does not have: \['extra.weight'\]"):
        restore_agent(build(make_venv()), extra)
    assert restore_agent(build(make_venv()), extra, strict=False).num_timesteps == SAVED_STEPS


@pytest.mark.parametrize("value", [-1, "64", 1.5, True])
def test_bad_counters_are_refused(saved, tmp_path: Path, value: Any) -> None:
    crafted = rewrite(
        saved[1], tmp_path / "agent.zip", {"data": data_with(saved[1], num_timesteps=value)}
    )
    with pytest.raises(ValueError, match=r"num_timesteps must be") as info:
        restore_agent(build(make_venv()), read_agent_file(crafted))
    assert str(crafted) in str(info.value)
