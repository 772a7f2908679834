"""The config tree of a PPO run, the recipe of each env id, and the one resolver.

As for supervised runs (:mod:`trm_rl.supervised.config`), two layers:

- :class:`PPOConfig` is what trains: the env (:class:`EnvSpec`: a registered id and its typed
  :class:`~envs.maze.MazeConfig` or :class:`~envs.sudoku.SudokuConfig`, which also says the
  game), the policy kind, the policy's TRM (:class:`~trm_rl.model.TRMConfig`; the baselines
  are matched in parameters to it), PPO's settings (:class:`PPOSettings`), thinking, evaluation
  and the run's budget and I/O. It is written to ``config.json``.
- :class:`PPOArgs` is what a user types (``trm-rl train-ppo``): ``--env.id``, ``--env.FIELD``,
  ``--model.FIELD``, ``--ppo.FIELD`` all optional, plus the older flags (``--env ID``,
  ``--preset``, ``--model-set``, ``--env-set``, ``--halt-max-steps``, ``--policy trm-h1l1``).

:func:`resolve_ppo` turns one into the other, once: the env id's :data:`RECIPES` entry < the
named preset (or the ``--init-from`` run's TRM) < what the env fixes (grid, vocabulary) < the
policy's own default (``trm-carry``: one round per supervision step) < every value the user set.
A set value is never replaced; one that cannot work is refused with the reason.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import gymnasium as gym
import tyro

import envs
from envs.maze.config import MIN_SIZE as MAZE_MIN_SIZE
from envs.maze.config import MazeConfig
from envs.sudoku.config import SudokuConfig
from envs.utils import check_choice, check_float, check_int
from trm_rl.model.config import TRMConfig
from trm_rl.overrides import combine, overrides_of, parse_key_values, set_fields
from trm_rl.supervised.config import check_budget
from trm_rl.supervised.warm_start import init_game, init_model_config

PolicyKind = Literal["trm", "trm-carry", "mlp", "convnet"]
POLICIES: tuple[str, ...] = ("trm", "trm-carry", "mlp", "convnet")
#: The older ``--policy`` names: the policy kind and the TRM fields they stand for.
LEGACY_POLICIES: dict[str, tuple[str, dict[str, Any]]] = {
    "trm-h1l1": ("trm", {"H_cycles": 1, "L_cycles": 1}),
    "conv": ("convnet", {}),
}
#: What each policy kind sets on its TRM unless the user sets it: a carried TRM thinks one
#: round per supervision step (its state persists across env steps instead).
POLICY_MODEL_DEFAULTS: dict[str, dict[str, Any]] = {"trm-carry": {"H_cycles": 1}}
#: PPO settings each policy kind uses unless the user sets them, on top of the env recipe's:
#: chosen with ``trm-rl tune-ppo`` (every setting at the same training FLOPs, scored on
#: validation; it writes results/ppo_tuning/<env>-<policy>/). Policies not listed use the
#: recipe's settings. trm-carry: one epoch (``trm-rl tune-ppo --env trm_rl/Maze-9x9-v0 --policy
#: trm-carry --init-from maze-11x11 --flops 1e13 --grid n_epochs=1,2,4 --seeds 0 1``: final
#: validation 0.94 / 0.91 / 0.80; fewer epochs are also cheaper per env step). That tuning's
#: trial files were not kept; the command above rebuilds them.
POLICY_PPO_DEFAULTS: dict[str, dict[str, Any]] = {"trm-carry": {"n_epochs": 1}}

#: The env config class of each registered entry point: the game is the config's type.
ENV_CONFIGS: dict[str, type] = {
    "envs.maze.env:MazeEnv": MazeConfig,
    "envs.sudoku.env:SudokuEnv": SudokuConfig,
}
GAMES: dict[type, str] = {MazeConfig: "maze", SudokuConfig: "sudoku"}
#: Validations over a --timesteps budget when no schedule is given (as supervised runs do).
EVALS_PER_BUDGET = 10
#: Seconds of training between validations of a --minutes budget when none is given.
DEFAULT_EVAL_EVERY_S = 60.0
#: Validation and test puzzles of a run that sets neither (fewer when they do not fit the env's
#: puzzles: :func:`trm_rl.policies.train.fit_eval_sizes`).
DEFAULT_VAL_EPISODES = 200
DEFAULT_TEST_EPISODES = 1000


# --------------------------------------------------------------------------------------- env
@dataclass(frozen=True)
class EnvSpec:
    """A registered env id and its whole typed config (the id's fixed fields included)."""

    id: str
    """Registered env id, e.g. trm_rl/Maze-9x9-v0 (``trm-rl envs`` lists them)."""
    config: MazeConfig | SudokuConfig
    """The env's config; its type says the game."""

    @property
    def game(self) -> str:
        """``"maze"`` or ``"sudoku"``."""
        return GAMES[type(self.config)]

    @property
    def kwargs(self) -> dict[str, Any]:
        """Constructor keyword arguments: the fields away from the config's defaults (and those
        the id fixes), so ``gym.make(id, **kwargs)`` builds this env."""
        defaults = type(self.config)()
        fixed = envs.ENV_IDS.get(self.id, {})
        out = {}
        for f in dataclasses.fields(self.config):
            value = getattr(self.config, f.name)
            if f.name in fixed or value != getattr(defaults, f.name):
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: id, game and the kwargs."""
        return {"id": self.id, "game": self.game, "kwargs": self.kwargs}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvSpec:
        """Build from :meth:`to_dict` output."""
        return make_env_spec(data["id"], data.get("kwargs", {}))


def env_config_class(env_id: str) -> type:
    """The config class (so the game) of a registered ``trm_rl`` id.

    :raises ValueError: for an id that is not registered or not one of this package's envs.
    """
    if not isinstance(env_id, str) or env_id not in gym.registry:
        known = sorted(envs.ENV_IDS)
        raise ValueError(f"unknown env id {env_id!r}; use one of {known} (trm-rl envs)")
    entry = gym.registry[env_id].entry_point
    if entry not in ENV_CONFIGS:
        raise ValueError(f"{env_id!r} is not a trm_rl env; use one of {sorted(envs.ENV_IDS)}")
    return ENV_CONFIGS[entry]


def make_env_spec(env_id: str, kwargs: dict[str, Any]) -> EnvSpec:
    """The :class:`EnvSpec` of ``gym.make(env_id, **kwargs)``, validated by the env's config.

    :raises ValueError: for an unknown id, a field the game does not have, or a field the id
        fixes set to another value.
    """
    config_class = env_config_class(env_id)
    names = {f.name for f in dataclasses.fields(config_class)}
    foreign = sorted(k for k in kwargs if k not in names)
    if foreign:
        raise ValueError(
            f"{env_id} has no option(s) {foreign}; {config_class.__name__} has {sorted(names)}"
        )
    fixed = envs.ENV_IDS.get(env_id, {})
    for key, value in fixed.items():
        if key in kwargs and _plain(kwargs[key]) != _plain(value):
            raise ValueError(
                f"env.{key}={kwargs[key]!r}, but {env_id} is registered with {key}={value!r}; "
                f"leave it unset or use an id without a fixed {key} (e.g. trm_rl/Maze-v0)"
            )
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in {**fixed, **kwargs}.items()}
    return EnvSpec(env_id, config_class(**values))


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# ---------------------------------------------------------------------------------------- PPO
@dataclass(frozen=True)
class PPOSettings:
    """PPO's settings (SB3's names)."""

    n_envs: int = 32
    """Parallel envs (one batched env)."""
    n_steps: int = 64
    """Steps per env per rollout."""
    batch_size: int = 512
    """Minibatch size of the update."""
    n_epochs: int = 4
    """Passes over each rollout."""
    learning_rate: float = 3e-4
    """Adam learning rate."""
    gamma: float = 0.99
    """Discount."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip_range: float = 0.2
    """PPO clip range."""
    ent_coef: float = 0.01
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Gradient norm clip."""
    target_kl: float | None = None
    """Stop an update early when the approximate KL exceeds this (None: never)."""

    def __post_init__(self) -> None:
        for name in ("n_envs", "n_steps", "batch_size", "n_epochs"):
            check_int(f"ppo.{name}", getattr(self, name), low=1)
        check_float("ppo.learning_rate", self.learning_rate, low=0.0)
        check_float("ppo.ent_coef", self.ent_coef, low=0.0)
        check_float("ppo.gamma", self.gamma, low=0.0, high=1.0)
        check_float("ppo.gae_lambda", self.gae_lambda, low=0.0, high=1.0)
        check_float("ppo.clip_range", self.clip_range, low=1e-6)
        check_float("ppo.vf_coef", self.vf_coef, low=0.0)
        check_float("ppo.max_grad_norm", self.max_grad_norm, low=1e-9)
        if self.target_kl is not None:
            check_float("ppo.target_kl", self.target_kl, low=1e-9)

    def sb3_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of SB3's PPO constructor (``n_envs`` is the env's)."""
        out = dataclasses.asdict(self)
        del out["n_envs"]
        return out


@dataclass(frozen=True)
class PPORecipe:
    """Defaults of one env id: the TRM, PPO's settings and env options found to work."""

    model: TRMConfig
    ppo: PPOSettings = field(default_factory=PPOSettings)
    init_learning_rate: float | None = None
    """Learning rate with ``--init-from`` (None: ``ppo.learning_rate``). A pretrained maze policy
    is nearly deterministic and its value head starts from scratch: at 3e-4 the first updates
    wreck it (98% -> 30% of validation mazes within 2x optimal in 4k steps), at 3e-5 it holds."""
    env: dict[str, Any] = field(default_factory=dict)
    """Env options (fields of the game's config)."""
    timesteps: int = 100_000
    """Env steps of a run that sets neither ``--timesteps`` nor ``--minutes``, from scratch
    (k_cycles ``cpu-ppo``'s budget)."""
    init_timesteps: int = 32_768
    """The same with ``--init-from``: the budget of the README's fine-tuning routes (9x9 mazes
    on the shipped 11x11 model, 4x4 Sudoku on the shipped 4x4 model)."""
    init_evals: int = 2
    """Validations (after the one of the starting policy) over that budget when no schedule is
    given: fine-tuning a frozen trunk costs about one policy forward per env step, as playing
    does, so 10 validations of 200 puzzles took half the run (measured: 9x9 mazes on the shipped
    11x11 model), and 2 (start, middle, end) still took 21-23% of it; the maze recipe keeps 1
    (the better of the start and the end). Sudoku's 4x4 pool validates 75 puzzles, so 2."""

    def budget(self, init_from: Any) -> int:
        """Env steps of a run that gives no budget (see :attr:`timesteps`)."""
        return self.timesteps if init_from is None else self.init_timesteps


def _recipe(preset: str, **ppo: Any) -> PPORecipe:
    return PPORecipe(TRMConfig.preset(preset), PPOSettings(**ppo))


def _maze(**ppo: Any) -> PPORecipe:
    recipe = _recipe("cpu-maze-conv", **ppo)
    return dataclasses.replace(recipe, init_learning_rate=3e-5, env={"shaping": True}, init_evals=1)


#: The recipe of each env id (ids not listed use their game's entry under "maze"/"sudoku").
RECIPES: dict[str, PPORecipe] = {
    "maze": _maze(),
    "trm_rl/Maze-5x5-v0": _maze(),
    "trm_rl/Maze-7x7-v0": _maze(),
    "trm_rl/Maze-9x9-v0": _maze(),
    "trm_rl/Maze-15x15-v0": _maze(n_envs=16),
    "trm_rl/Maze-31x31-v0": _maze(n_envs=8),
    "trm_rl/MazeHard-v0": _maze(n_envs=8),
    "sudoku": _recipe("cpu-sudoku-9x9", n_envs=16, gamma=0.9),
    "trm_rl/Sudoku-4x4-v0": _recipe("cpu-sudoku-4x4", gamma=0.9),
    "trm_rl/Sudoku-6x6-v0": _recipe("cpu-sudoku-6x6", n_envs=16, gamma=0.9),
    "trm_rl/Sudoku-9x9-v0": _recipe("cpu-sudoku-9x9", n_envs=16, gamma=0.9),
}


def recipe_for(env_id: str, game: str) -> PPORecipe:
    """The recipe of ``env_id`` (or of its game when the id has none)."""
    return RECIPES.get(env_id, RECIPES[game])


def parse_sizes(args: list[str]) -> tuple[int, ...]:
    """Grid sizes from the command line: ``5,7,9``, ``5 7 9`` or a mix.

    :raises ValueError: for an item that is not an integer, naming it.
    """
    sizes = []
    for item in (part for arg in args for part in arg.split(",")):
        if item.strip():
            try:
                sizes.append(int(item))
            except ValueError:
                raise ValueError(f"{item!r} is not a maze size; pass sizes such as 5,7,9") from None
    return tuple(sizes)


#: ``--curriculum 5,7,9`` or ``--curriculum 5 7 9``.
SIZES_ARG = tyro.constructors.PrimitiveConstructorSpec(
    nargs="*",
    metavar="SIZE[,SIZE ...]",
    instance_from_str=parse_sizes,
    is_instance=lambda value: isinstance(value, tuple) and all(isinstance(v, int) for v in value),
    str_from_instance=lambda value: [",".join(map(str, value))] if value else [],
)


# ----------------------------------------------------------------------------------- the tree
@dataclass(frozen=True, kw_only=True)
class PPORun:
    """The budget, thinking, evaluation and I/O of a PPO run: what it shares with its command
    line."""

    out: Path = Path("runs/ppo")
    """Run directory: config.json, agent.zip, metrics.csv, TensorBoard events, splits."""
    timesteps: int | None = None
    """Budget in env steps (summed over the parallel envs). None with no --minutes: the env
    id's recipe, 100,000 env steps from scratch and 32,768 with --init-from."""
    minutes: float | None = None
    """Wall-clock budget of PPO in minutes (validation excluded): how far a run gets then
    depends on the machine and its load; prefer --timesteps (or the recipe's)."""
    seed: int = 0
    """Seed of the model, of PPO's sampling and of the training envs (>= 0)."""
    resume: bool = False
    """Continue the run in ``out`` from its last checkpoint (envs restart their episodes)."""
    init_from: Path | None = None
    """A supervised run directory (trm-rl train-supervised --out) or a shipped model's name
    (trm-rl models, e.g. maze-11x11) whose TRM weights initialise the policy's TRM (same game;
    another grid size only for mixer='conv')."""
    think_steps: int = 1
    """TRM supervision steps per env step (TRM policies; the earlier ones without gradients)."""
    think_rounds: int | None = None
    """'trm-carry' only: ACT thinking time. Each env step thinks up to this many rounds and
    stops when the TRM's halting head says so (None: think_steps rounds at every step)."""
    freeze_trm: bool = False
    """Train only the TRM's heads (lm_head, the maze move head) and the value head; the
    embeddings and the reasoning network keep their initial (e.g. --init-from) weights."""
    state_dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    """How 'trm-carry' keeps and stores its state."""
    heldout: Literal["auto", "layout", "puzzle"] = "auto"
    """How validation/test puzzles differ from the training pool: 'layout' (mazes: no wall
    layout of a training maze, whatever its start and goal), 'puzzle' (no identical puzzle) or
    'auto' (layout for mazes of at least 7x7 and maze files; puzzle for 5x5 mazes, whose ~90
    layouts all fit in a pool, and for Sudoku)."""
    val_episodes: int | None = None
    """Held-out validation puzzles played at each evaluation (deterministic actions). Unset: 200,
    fewer when the env's puzzles cannot hold that many out (see test_episodes); config.json
    stores the number used."""
    test_episodes: int | None = None
    """Held-out test puzzles reserved for trm-rl evaluate-ppo. Unset: 1000. When the env's fixed
    puzzle set (a Sudoku pool, the Sudoku solutions --init-from held out, a maze file) cannot
    hold out the defaults beside a training pool, the unset sizes shrink to at most half of it
    (split 1:5 when both are unset) and a note says so. A size you set is used as given, or
    refused when it does not fit."""
    eval_every_steps: int | None = None
    """Validate at the first rollout boundary at or past every multiple of this many env steps:
    the same points on any machine (a fresh run also validates after its first rollout, every
    run at its end). None: a tenth of --timesteps (about 10 validations), a half for the
    recipe's budget with --init-from; with --minutes, or when --eval-every-s is given, the
    clock."""
    eval_every_s: float | None = None
    """Validate about every this many seconds of training instead (wall clock: the points move
    with the machine's speed and load). None: 60 with a --minutes budget, unused with
    --timesteps unless given."""
    device: str = "auto"
    """'auto' (CUDA when present), 'cpu', 'cuda', ..."""
    compile: bool = False
    """torch.compile the TRM's reasoning network."""
    rollout_threads: int | None = 1
    """torch threads while collecting rollouts (small batches: 1 is fastest on a CPU)."""
    update_threads: int | None = 1
    """torch threads during the update (on a shared 2-core CPU one per process is fastest)."""
    progress: bool = True
    """Show a progress bar with ETA."""
    tensorboard: bool = True
    """Write TensorBoard events into the run directory."""
    checkpoint_seconds: float = 120.0
    """Save agent.zip at least this often (and at the end)."""
    wandb: bool = False
    """Also log every metrics.csv row and the config to Weights & Biases (pip install -e
    '.[wandb]'); the W&B run lives in <out>/wandb and --resume continues it. WANDB_MODE=offline
    keeps it on disk (upload later with wandb sync)."""
    wandb_project: str = "trm-rl"
    """The W&B project of --wandb runs."""
    curriculum: Annotated[tuple[int, ...], SIZES_ARG] = ()
    """Maze sizes to train on in order, e.g. 5,7,9 (or 5 7 9); the env id's size comes last
    (added when not listed). --timesteps is split evenly over the stages (each switch at the first rollout
    boundary at or past its share); validation stays on the env's size. Mazes only, for
    size-agnostic policies (convnet, TRM with mixer='conv')."""


@dataclass(frozen=True, kw_only=True)
class PPOConfig(PPORun):
    """Everything a PPO run trains with (``config.json``)."""

    env: EnvSpec
    """The env: id and typed config."""
    model: TRMConfig
    """The policy's TRM (for mlp/convnet policies: the TRM they are matched to in parameters)."""
    policy: PolicyKind = "trm"
    """'trm' (a TRM supervision step from scratch at every env step), 'trm-carry' (the TRM
    state persists across env steps), 'mlp' (SB3 MLP over the one-hot grid) or 'convnet' (a
    residual conv net), the baselines matched in parameters to the TRM policy."""
    ppo: PPOSettings = field(default_factory=PPOSettings)
    """PPO's settings."""

    def __post_init__(self) -> None:
        if not isinstance(self.env, EnvSpec):
            raise ValueError(f"PPOConfig.env must be an EnvSpec, got {type(self.env).__name__}")
        if not isinstance(self.model, TRMConfig):
            raise ValueError(f"PPOConfig.model must be a TRMConfig, got {type(self.model)}")
        check_choice("policy", self.policy, POLICIES)
        check_budget(self.timesteps, self.minutes, "timesteps")
        check_int("seed", self.seed, low=0)
        check_int("think_steps", self.think_steps, low=1)
        check_int("think_rounds", self.think_rounds, low=1, allow_none=True)
        check_choice("state_dtype", self.state_dtype, ("bfloat16", "float16", "float32"))
        check_int("val_episodes", self.val_episodes, low=1, allow_none=True)
        check_int("test_episodes", self.test_episodes, low=1, allow_none=True)
        self._resolve_eval_schedule()
        check_int("rollout_threads", self.rollout_threads, low=1, allow_none=True)
        check_int("update_threads", self.update_threads, low=1, allow_none=True)
        check_float("checkpoint_seconds", self.checkpoint_seconds, low=0.0)
        trm = self.policy.startswith("trm")
        check_choice("heldout", self.heldout, ("auto", "layout", "puzzle"))
        if self.heldout == "layout" and self.game != "maze":
            raise ValueError(
                "--heldout layout holds out maze wall layouts; Sudoku splits by puzzle"
            )
        if self.freeze_trm and not trm:
            raise ValueError(f"--freeze-trm freezes a TRM policy; --policy {self.policy} has none")
        if self.init_from is not None and not trm:
            raise ValueError("--init-from initialises TRM policies; use --policy trm or trm-carry")
        if self.think_steps > 1 and not trm:
            raise ValueError(f"--think-steps is the TRM's; --policy {self.policy} has no TRM")
        if self.think_rounds is not None and self.policy != "trm-carry":
            raise ValueError(
                "--think-rounds (ACT thinking time) needs --policy trm-carry, whose buffer "
                f"stores the state each step's last round starts from; got --policy {self.policy}"
            )
        object.__setattr__(self, "curriculum", tuple(self.curriculum))
        self._check_curriculum()
        object.__setattr__(self, "out", Path(self.out))
        if self.init_from is not None:
            object.__setattr__(self, "init_from", Path(self.init_from))

    def _resolve_eval_schedule(self) -> None:
        """Check ``eval_every_steps`` / ``eval_every_s`` and fill the default: 10 validations
        over a --timesteps budget, one a minute over a --minutes one."""
        check_int("eval_every_steps", self.eval_every_steps, low=1, allow_none=True)
        if self.eval_every_s is not None:
            check_float("eval_every_s", self.eval_every_s, low=0.0)
            if self.eval_every_steps is not None:
                raise ValueError(
                    f"give one validation schedule: --eval-every-steps {self.eval_every_steps} "
                    f"(env steps, the same on any machine) or --eval-every-s "
                    f"{self.eval_every_s:g} (wall clock), not both"
                )
        elif self.eval_every_steps is None:
            if self.timesteps is not None:
                every = max(1, self.timesteps // EVALS_PER_BUDGET)
                object.__setattr__(self, "eval_every_steps", every)
            else:
                object.__setattr__(self, "eval_every_s", DEFAULT_EVAL_EVERY_S)

    def _check_curriculum(self) -> None:
        """Refuse a curriculum this run cannot train (see :attr:`PPORun.curriculum`)."""
        sizes = self.curriculum
        if not sizes:
            return
        flag = "--curriculum " + " ".join(map(str, sizes))
        for size in sizes:
            check_int("curriculum size", size)
            if size < MAZE_MIN_SIZE:
                raise ValueError(
                    f"{flag}: the smallest generated maze is {MAZE_MIN_SIZE}x{MAZE_MIN_SIZE}; "
                    f"start the curriculum at {MAZE_MIN_SIZE} or above"
                )
        if self.game != "maze":
            raise ValueError(f"{flag}: a curriculum grows mazes; {self.env.id} plays Sudoku")
        config = self.env.config
        if config.dataset is not None or not isinstance(config.size, int):
            raise ValueError(
                f"{flag} needs square generated mazes; {self.env.id} with dataset="
                f"{config.dataset!r}, size={config.size!r} has none: use e.g. trm_rl/Maze-9x9-v0"
            )
        if self.policy == "mlp" or (self.policy.startswith("trm") and self.model.mixer != "conv"):
            what = "the MLP" if self.policy == "mlp" else f"a TRM with mixer={self.model.mixer!r}"
            raise ValueError(
                f"{flag}: {what} is built for one grid size; use --policy convnet or a TRM with "
                "--model.mixer conv (e.g. --model.preset cpu-maze-conv)"
            )
        if any(b <= a for a, b in itertools.pairwise(sizes)) or sizes[-1] > config.size:
            raise ValueError(
                f"{flag}: sizes must increase and end at most at the env's size {config.size} "
                f"({self.env.id}), e.g. --curriculum 5 7"
            )
        for size in sizes:  # e.g. a min_path_length that a smaller maze cannot have
            config.replace(size=size)
        stages = len(self.curriculum_sizes)
        rollout = self.ppo.n_envs * self.ppo.n_steps
        if self.timesteps is None or self.timesteps < stages * rollout:
            raise ValueError(
                f"{flag} splits --timesteps over {stages} stages of whole rollouts "
                f"(n_envs x n_steps = {rollout} env steps): give --timesteps >= "
                f"{stages * rollout} (not --minutes)"
            )

    @property
    def heldout_by(self) -> str:
        """``heldout`` resolved: 'layout' or 'puzzle' (see :attr:`heldout`)."""
        if self.heldout != "auto":
            return self.heldout
        if self.game != "maze":
            return "puzzle"
        maze = self.env.config
        return "layout" if maze.dataset is not None or min(maze.shape) >= 7 else "puzzle"  # type: ignore[union-attr]

    @property
    def curriculum_sizes(self) -> tuple[int, ...]:
        """The maze size of every training stage: the curriculum, then the env's size (``()``
        without a curriculum)."""
        if not self.curriculum:
            return ()
        final = self.env.config.size
        return self.curriculum if self.curriculum[-1] == final else (*self.curriculum, final)

    @property
    def game(self) -> str:
        """``"maze"`` or ``"sudoku"`` (from the env config's type)."""
        return self.env.game

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested dict (:meth:`from_dict` reads it back)."""
        out = dataclasses.asdict(self)
        out["env"] = self.env.to_dict()
        out["model"] = self.model.to_dict()
        out["out"] = str(self.out)
        out["init_from"] = None if self.init_from is None else str(self.init_from)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PPOConfig:
        """Build from :meth:`to_dict` output.

        :raises ValueError: for missing parts or invalid values.
        """
        data = dict(data)
        try:
            env = EnvSpec.from_dict(data.pop("env"))
            model = TRMConfig.from_dict(data.pop("model"))
            ppo = PPOSettings(**data.pop("ppo", {}))
        except (KeyError, TypeError) as e:
            raise ValueError(f"not a PPOConfig dict ({e}); was config.json edited?") from None
        return cls(env=env, model=model, ppo=ppo, **data)


# ------------------------------------------------------------------------- what a user types
EnvArgs = overrides_of(
    "EnvArgs",
    [MazeConfig, SudokuConfig],
    extra=[("id", str, "Registered env id, e.g. trm_rl/Maze-9x9-v0, trm_rl/Sudoku-4x4-v0 "
                       "(trm-rl envs lists them); --env ID is short. Default trm_rl/Maze-9x9-v0.")],
    doc="The env (unset fields: the id's registration, then the recipe's).",
)  # fmt: skip
PolicyModelArgs = overrides_of(
    "PolicyModelArgs",
    [TRMConfig],
    extra=[("preset", str, "A TRMConfig preset in place of the env recipe's TRM.")],
    doc="The policy's TRM (unset fields: --init-from's run, the preset or the recipe).",
)
PPOSettingsArgs = overrides_of("PPOSettingsArgs", [PPOSettings], doc="PPO (unset: the recipe).")


@dataclass(frozen=True, kw_only=True)
class PPOArgs(PPORun):
    """Train a TRM policy (or a baseline matched in parameters) with PPO in an env. Unset env,
    model and PPO fields come from the env id's recipe; a value you set is used as given or
    refused with the reason."""

    env: EnvArgs = field(default_factory=EnvArgs)  # type: ignore[valid-type]
    """The env."""
    policy: str = "trm"
    """'trm', 'trm-carry', 'mlp' or 'convnet' (see PPOConfig.policy); older names: 'trm-h1l1'
    (= trm with --model.H-cycles 1 --model.L-cycles 1), 'conv' (= convnet)."""
    model: PolicyModelArgs = field(default_factory=PolicyModelArgs)  # type: ignore[valid-type]
    """The policy's TRM."""
    ppo: PPOSettingsArgs = field(default_factory=PPOSettingsArgs)  # type: ignore[valid-type]
    """PPO's settings."""
    preset: str | None = None
    """Older spelling of --model.preset."""
    model_set: tuple[str, ...] = ()
    """Older spelling of --model.FIELD: KEY=VALUE items (JSON values), e.g. hidden_size=96."""
    env_set: tuple[str, ...] = ()
    """Older spelling of --env.FIELD: KEY=VALUE items (JSON values), e.g. shaping=false."""
    halt_max_steps: int | None = None
    """Older name of --think-rounds (not the TRM's halt_max_steps, which is
    --model.halt-max-steps)."""


def ppo_args(env: str = "trm_rl/Maze-9x9-v0", **options: Any) -> PPOArgs:
    """:class:`PPOArgs` from plain values, for scripts and tests: ``ppo_args("trm_rl/Sudoku-4x4-v0",
    timesteps=2048, model={"H_cycles": 1}, ppo={"n_envs": 8}, env_fields={"max_steps": 30})``."""
    model = PolicyModelArgs(**options.pop("model", {}))
    ppo = PPOSettingsArgs(**options.pop("ppo", {}))
    env_args = EnvArgs(id=env, **options.pop("env_fields", {}))
    return PPOArgs(env=env_args, model=model, ppo=ppo, **options)


def resolve_ppo(args: PPOArgs) -> PPOConfig:
    """The :class:`PPOConfig` a :class:`PPOArgs` asks for (see the module doc for the order).

    :raises ValueError: naming the option and what to set instead.
    """
    env_fields = combine(
        set_fields(args.env), parse_key_values(args.env_set, EnvArgs, "--env-set"),
        "--env-set", "--env",
    )  # fmt: skip
    env_id = env_fields.pop("id", "trm_rl/Maze-9x9-v0")
    config_class = env_config_class(env_id)
    game = GAMES[config_class]
    recipe = recipe_for(env_id, game)
    names = {f.name for f in dataclasses.fields(config_class)}
    recipe_env = {k: v for k, v in recipe.env.items() if k in names}
    env = make_env_spec(env_id, {**recipe_env, **env_fields})

    policy, policy_fields = args.policy, {}
    if policy in LEGACY_POLICIES:
        policy, policy_fields = LEGACY_POLICIES[policy]
    policy = check_choice("policy", policy, POLICIES + tuple(LEGACY_POLICIES))
    think_rounds = args.think_rounds
    if args.halt_max_steps is not None:
        if think_rounds is not None and think_rounds != args.halt_max_steps:
            raise ValueError("--halt-max-steps is the older name of --think-rounds; give one")
        think_rounds = args.halt_max_steps

    model_fields = combine(
        set_fields(args.model), parse_key_values(args.model_set, PolicyModelArgs, "--model-set"),
        "--model-set", "--model",
    )  # fmt: skip
    if args.preset is not None:
        model_fields = combine(model_fields, {"preset": args.preset}, "--preset", "--model")
    model_fields = combine(model_fields, policy_fields, f"--policy {args.policy}", "--model")
    preset = model_fields.pop("preset", None)
    model = _policy_model(env, recipe, preset, args.init_from, policy, model_fields)

    ppo = {**POLICY_PPO_DEFAULTS.get(policy, {}), **set_fields(args.ppo)}
    if (
        "learning_rate" not in ppo
        and args.init_from is not None
        and recipe.init_learning_rate is not None
    ):
        ppo["learning_rate"] = recipe.init_learning_rate
    run = {f.name: getattr(args, f.name) for f in dataclasses.fields(PPORun)}
    run["think_rounds"] = think_rounds
    if run["timesteps"] is None and run["minutes"] is None:
        run["timesteps"] = recipe.budget(args.init_from)
        no_schedule = run["eval_every_steps"] is None and run["eval_every_s"] is None
        if args.init_from is not None and no_schedule:
            run["eval_every_steps"] = max(1, run["timesteps"] // recipe.init_evals)
    return PPOConfig(
        env=env,
        model=model,
        policy=policy,  # type: ignore[arg-type]
        ppo=dataclasses.replace(recipe.ppo, **ppo),
        **run,
    )


def _policy_model(
    env: EnvSpec,
    recipe: PPORecipe,
    preset: str | None,
    init_from: Path | None,
    policy: str,
    fields: dict[str, Any],
) -> TRMConfig:
    """The policy's TRM: the base (``--init-from`` run, preset or recipe) fitted to the env's
    grid, the policy's defaults, then the user's fields."""
    rows, cols = _grid_shape(env)
    vocab = 6 if env.game == "maze" else rows + 2
    if init_from is not None:
        if preset is not None:
            raise ValueError(
                "--init-from takes the supervised run's TRM; drop --model.preset (or --init-from)"
            )
        base = supervised_trm_config(init_from, env.game)
        if base.vocab_size < vocab:
            raise ValueError(
                f"the supervised run's vocab_size={base.vocab_size} cannot hold this env's "
                f"tokens ({vocab}); initialise from a run on the same game and board size"
            )
        if base.mixer != "conv" and base.seq_len != rows * cols:
            raise ValueError(
                f"the supervised run is a {base.mixer} TRM for {base.seq_len} cells, this env "
                f"has {rows}x{cols}; only mixer='conv' runs transfer across grid sizes"
            )
        fixed = {"seq_len": rows * cols, "grid_width": cols}
    else:
        if preset is not None and preset not in TRMConfig.preset_names():
            raise ValueError(f"unknown preset {preset!r}; choose one of {TRMConfig.preset_names()}")
        base = TRMConfig.preset(preset) if preset is not None else recipe.model
        fixed = {"seq_len": rows * cols, "grid_width": cols, "vocab_size": vocab}
    for key, value in fixed.items():
        if key in fields and fields[key] != value:
            raise ValueError(
                f"model.{key}={fields[key]!r} contradicts the env ({rows}x{cols} grid, {vocab} "
                "tokens); leave it unset"
            )
    defaults = {k: v for k, v in POLICY_MODEL_DEFAULTS.get(policy, {}).items() if k not in fields}
    return base.replace(**{**fixed, **defaults, **fields})


def _grid_shape(env: EnvSpec) -> tuple[int, int]:
    """Rows and columns of the env's observation grid."""
    instance = gym.make(env.id, **env.kwargs)
    try:
        rows, cols = instance.observation_space["grid"].shape
    finally:
        instance.close()
    return int(rows), int(cols)


def supervised_trm_config(run_dir: Path, game: str) -> TRMConfig:
    """The TRM config of a supervised run or shipped model (:func:`shipped_init`), checked to
    be a TRM of ``game``.

    :raises ValueError: for a folder that is not a finished supervised run, a baseline, or a
        run of the other game.
    """
    kind = init_game(run_dir)
    if kind != game:
        raise ValueError(
            f"--init-from {str(run_dir)!r} was trained on {kind} puzzles; this env plays {game}: "
            f"initialise from a {game} run or model"
        )
    base = init_model_config(run_dir)
    if not isinstance(base, TRMConfig):
        raise ValueError(
            f"--init-from {str(run_dir)!r} holds a {type(base).__name__}; only TRM runs can "
            "initialise a TRM policy"
        )
    return base


__all__ = [
    "DEFAULT_TEST_EPISODES",
    "DEFAULT_VAL_EPISODES",
    "ENV_CONFIGS",
    "LEGACY_POLICIES",
    "POLICIES",
    "RECIPES",
    "EnvArgs",
    "EnvSpec",
    "PPOArgs",
    "PPOConfig",
    "PPORecipe",
    "PPORun",
    "PPOSettings",
    "PPOSettingsArgs",
    "PolicyKind",
    "PolicyModelArgs",
    "make_env_spec",
    "ppo_args",
    "recipe_for",
    "resolve_ppo",
    "supervised_trm_config",
]
