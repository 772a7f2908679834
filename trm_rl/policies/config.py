"""``PPOConfig``: the options of ``trm-rl train-ppo``, and the recipe of each env id.

Every ``None`` field falls back to the env id's :data:`RECIPES` entry, so
``trm-rl train-ppo --env trm_rl/Maze-9x9-v0 --policy trm --minutes 30 --out runs/p9`` uses the
best recipe found for 9x9 mazes. Model fields are overridable with ``--model-set KEY=VALUE``
and env constructor arguments with ``--env-set KEY=VALUE`` (values parsed as JSON).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from envs.utils import check_choice, check_float, check_int
from trm_rl.supervised.config import parse_overrides

PolicyName = Literal["trm", "trm-carry", "trm-h1l1", "mlp", "conv"]
POLICIES: tuple[str, ...] = ("trm", "trm-carry", "trm-h1l1", "mlp", "conv")


@dataclass(frozen=True)
class PPOConfig:
    """Options of a PPO run (``trm-rl train-ppo``)."""

    env: str = "trm_rl/Maze-9x9-v0"
    """Registered env id (``trm-rl envs`` lists them), e.g. trm_rl/Maze-9x9-v0,
    trm_rl/Sudoku-4x4-v0."""
    policy: PolicyName = "trm"
    """'trm' (a TRM supervision step from scratch at every env step), 'trm-carry' (the TRM state
    persists across env steps, one round per step), 'trm-h1l1' (the TRM with H_cycles=1,
    L_cycles=1), 'mlp' (SB3 MLP over the one-hot grid) or 'conv' (a residual conv net), the
    baselines matched in parameters to the TRM."""
    preset: str | None = None
    """TRM preset (see TRMConfig.preset); None: the env recipe's. Baselines match its size."""
    out: Path = Path("runs/ppo")
    """Run directory: config.json, agent.zip, metrics.csv, TensorBoard events, splits."""
    minutes: float | None = None
    """Wall-clock budget of PPO in minutes (validation excluded). One of minutes/timesteps."""
    timesteps: int | None = None
    """Budget in env steps (summed over the parallel envs)."""
    seed: int = 0
    """Seed of the model, of PPO's sampling and of the training envs (>= 0)."""
    resume: bool = False
    """Continue the run in --out from its last checkpoint (envs restart their episodes)."""
    init_from: Path | None = None
    """A supervised run directory (trm-rl train-supervised --out) whose TRM weights initialise
    the policy's TRM (same architecture; the grid size may differ for mixer='conv')."""
    n_envs: int | None = None
    """Parallel envs (one batched env); None: the recipe's."""
    n_steps: int | None = None
    """Steps per env per rollout; None: the recipe's."""
    batch_size: int | None = None
    """Minibatch size of the update; None: the recipe's."""
    n_epochs: int | None = None
    """Passes over each rollout; None: the recipe's."""
    learning_rate: float | None = None
    """Adam learning rate; None: the recipe's (its init_learning_rate with --init-from)."""
    gamma: float | None = None
    """Discount; None: the recipe's."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip_range: float = 0.2
    """PPO clip range."""
    ent_coef: float | None = None
    """Entropy bonus coefficient; None: the recipe's."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Gradient norm clip."""
    target_kl: float | None = None
    """Stop an update early when the approximate KL exceeds this (None: never)."""
    think_steps: int = 1
    """TRM supervision steps per env step ('trm' and 'trm-carry'; the earlier ones without
    gradients)."""
    freeze_trm: bool = False
    """Train only the TRM's heads (lm_head, the maze move head) and the value head; the
    embeddings and the reasoning network keep their initial (e.g. --init-from) weights. PPO then
    cannot disturb a pretrained reasoning network, and the update skips back-propagation
    through the recursion."""
    halt_max_steps: int | None = None
    """'trm-carry' only: ACT thinking time. Each env step thinks up to this many rounds and stops
    when the TRM's halting head says so; the head learns the target 'one more round would not
    change the greedy action'. None: think_steps rounds at every step."""
    state_dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    """How 'trm-carry' keeps and stores its state."""
    model_set: tuple[str, ...] = ()
    """TRM config overrides KEY=VALUE (JSON values), e.g. hidden_size=96 H_cycles=3."""
    env_set: tuple[str, ...] = ()
    """Env constructor overrides KEY=VALUE (JSON values), e.g. shaping=false pool_size=5000."""
    val_episodes: int = 200
    """Held-out validation puzzles played at each evaluation (deterministic actions)."""
    test_episodes: int = 1000
    """Held-out test puzzles reserved for trm-rl evaluate-ppo (never used in training or
    validation)."""
    eval_every_s: float = 60.0
    """Validate about every this many seconds of training (and at the end)."""
    device: str = "auto"
    """'auto' (CUDA when present), 'cpu', 'cuda', ..."""
    compile: bool = False
    """torch.compile the TRM's reasoning network (compile_network())."""
    rollout_threads: int | None = 1
    """torch threads while collecting rollouts (small batches: 1 is fastest on a CPU)."""
    update_threads: int | None = 1
    """torch threads during the update (None: torch's default; on a shared 2-core CPU one
    thread per process is fastest)."""
    progress: bool = True
    """Show a progress bar with ETA."""
    tensorboard: bool = True
    """Write TensorBoard events into the run directory."""
    checkpoint_seconds: float = 120.0
    """Save agent.zip at least this often (and at the end)."""

    def __post_init__(self) -> None:
        if not isinstance(self.env, str) or not self.env:
            raise ValueError("--env must be a registered id such as trm_rl/Maze-9x9-v0")
        check_choice("policy", self.policy, POLICIES)
        if (self.minutes is None) == (self.timesteps is None):
            raise ValueError("give exactly one budget: --minutes M or --timesteps N")
        if self.minutes is not None:
            check_float("minutes", self.minutes, low=1e-3)
        check_int("timesteps", self.timesteps, low=1, allow_none=True)
        check_int("seed", self.seed, low=0)
        for name in ("n_envs", "n_steps", "batch_size", "n_epochs"):
            check_int(name, getattr(self, name), low=1, allow_none=True)
        for name in ("learning_rate", "ent_coef"):
            if getattr(self, name) is not None:
                check_float(name, getattr(self, name), low=0.0)
        if self.gamma is not None:
            check_float("gamma", self.gamma, low=0.0, high=1.0)
        check_float("gae_lambda", self.gae_lambda, low=0.0, high=1.0)
        check_float("clip_range", self.clip_range, low=1e-6)
        check_float("vf_coef", self.vf_coef, low=0.0)
        check_float("max_grad_norm", self.max_grad_norm, low=1e-9)
        if self.target_kl is not None:
            check_float("target_kl", self.target_kl, low=1e-9)
        check_int("think_steps", self.think_steps, low=1)
        check_int("halt_max_steps", self.halt_max_steps, low=1, allow_none=True)
        if self.freeze_trm and not self.policy.startswith("trm"):
            raise ValueError(f"--freeze-trm freezes a TRM policy; --policy {self.policy} has none")
        if self.halt_max_steps is not None and self.policy != "trm-carry":
            raise ValueError(
                "--halt-max-steps (ACT thinking time) needs --policy trm-carry, whose buffer "
                f"stores the state each step's last round starts from; got --policy {self.policy}"
            )
        check_choice("state_dtype", self.state_dtype, ("bfloat16", "float16", "float32"))
        check_int("val_episodes", self.val_episodes, low=1)
        check_int("test_episodes", self.test_episodes, low=1)
        check_float("eval_every_s", self.eval_every_s, low=0.0)
        check_int("rollout_threads", self.rollout_threads, low=1, allow_none=True)
        check_int("update_threads", self.update_threads, low=1, allow_none=True)
        check_float("checkpoint_seconds", self.checkpoint_seconds, low=0.0)
        parse_overrides(self.model_set, "--model-set")
        parse_overrides(self.env_set, "--env-set")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (paths as strings)."""
        out = dataclasses.asdict(self)
        out["out"] = str(self.out)
        out["init_from"] = None if self.init_from is None else str(self.init_from)
        out["model_set"], out["env_set"] = list(self.model_set), list(self.env_set)
        return out


@dataclass(frozen=True)
class PPORecipe:
    """Defaults of one env id: the TRM preset, PPO's settings and env arguments found to work."""

    preset: str
    n_envs: int = 32
    n_steps: int = 64
    batch_size: int = 512
    n_epochs: int = 4
    learning_rate: float = 3e-4
    gamma: float = 0.99
    ent_coef: float = 0.01
    init_learning_rate: float | None = None
    """Learning rate with ``--init-from`` (None: ``learning_rate``). A pretrained maze policy is
    nearly deterministic and its value head starts from scratch: at 3e-4 the first updates
    wreck it (98% -> 30% of validation mazes within 2x optimal in 4k steps), at 3e-5 it holds."""
    model_set: dict[str, Any] = field(default_factory=dict)
    env_set: dict[str, Any] = field(default_factory=dict)


_MAZE: dict[str, Any] = {"env_set": {"shaping": True}, "init_learning_rate": 3e-5}
#: The recipe of each env id (ids not listed use their game's entry under "maze"/"sudoku").
RECIPES: dict[str, PPORecipe] = {
    "maze": PPORecipe("cpu-maze-conv", **_MAZE),
    "trm_rl/Maze-5x5-v0": PPORecipe("cpu-maze-conv", **_MAZE),
    "trm_rl/Maze-9x9-v0": PPORecipe("cpu-maze-conv", **_MAZE),
    "trm_rl/Maze-15x15-v0": PPORecipe("cpu-maze-conv", n_envs=16, **_MAZE),
    "trm_rl/Maze-31x31-v0": PPORecipe("cpu-maze-conv", n_envs=8, **_MAZE),
    "trm_rl/MazeHard-v0": PPORecipe("cpu-maze-conv", n_envs=8, **_MAZE),
    "sudoku": PPORecipe("cpu-sudoku-9x9", n_envs=16, gamma=0.9),
    "trm_rl/Sudoku-4x4-v0": PPORecipe("cpu-sudoku-4x4", gamma=0.9),
    "trm_rl/Sudoku-6x6-v0": PPORecipe("cpu-sudoku-6x6", n_envs=16, gamma=0.9),
    "trm_rl/Sudoku-9x9-v0": PPORecipe("cpu-sudoku-9x9", n_envs=16, gamma=0.9),
}


def recipe_for(env_id: str, game: str) -> PPORecipe:
    """The recipe of ``env_id`` (or of its game when the id has none)."""
    return RECIPES.get(env_id, RECIPES[game])


__all__ = ["POLICIES", "RECIPES", "PPOConfig", "PPORecipe", "PolicyName", "recipe_for"]
