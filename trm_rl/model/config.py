"""Configuration of the Tiny Recursive Model: one typed dataclass, named presets, and a
translator from the official code's architecture dict.

Notation (paper -> code): answer ``y`` -> ``z_H``, latent ``z`` -> ``z_L``,
``T`` -> :attr:`TRMConfig.H_cycles`, ``n`` -> :attr:`TRMConfig.L_cycles`,
``N_sup`` -> :attr:`TRMConfig.halt_max_steps`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch

from envs.utils import check_bool, check_float, check_int

Mixer = Literal["attention", "mlp", "conv", "units"]
PosEncodings = Literal["rope", "learned", "none"]
ForwardDtype = Literal["float32", "bfloat16"]
MLPType = Literal["swiglu", "relu"]

#: Key of the model-kind tag in a config dict ("trm", "mlp" or "convnet").
KIND_KEY = "kind"

_MIXERS = ("attention", "mlp", "conv", "units")
_POS_ENCODINGS = ("rope", "learned", "none")
_DTYPES = ("float32", "bfloat16")
_MLP_TYPES = ("swiglu", "relu")

#: Box shape (rows, cols) of each N x N Sudoku the units mixer accepts (the convention of
#: ``envs.sudoku.types.BOX_SHAPES``, restated because ``trm_rl.model`` imports no environment;
#: a test checks that the two agree).
SUDOKU_BOX_SHAPES: dict[int, tuple[int, int]] = {4: (2, 2), 6: (2, 3), 9: (3, 3)}

# Field -> smallest accepted value.
_INT_FIELDS = {
    "vocab_size": 2,
    "seq_len": 1,
    "hidden_size": 1,
    "num_heads": 1,
    "num_layers": 1,
    "H_cycles": 1,
    "L_cycles": 1,
    "puzzle_emb_len": 0,
    "num_puzzle_identifiers": 0,
    "halt_max_steps": 1,
    "swiglu_multiple": 1,
}
_POSITIVE_FLOAT_FIELDS = ("expansion", "rms_norm_eps", "rope_theta")
_BOOL_FIELDS = ("act", "q_continue", "separate_networks", "single_z", "full_backprop")
_CHOICE_FIELDS = {
    "mixer": _MIXERS,
    "pos_encodings": _POS_ENCODINGS,
    "forward_dtype": _DTYPES,
    "mlp_type": _MLP_TYPES,
}


def _require(ok: bool, msg: str) -> None:
    if not ok:
        raise ValueError(f"TRMConfig: {msg}")


def find_multiple(value: int, multiple: int) -> int:
    """Round ``value`` up to a multiple of ``multiple``."""
    return -(value // -multiple) * multiple


def mlp_width(dim: int, expansion: float, multiple: int, mlp_type: MLPType = "swiglu") -> int:
    """Intermediate width of a channel/sequence MLP of input size ``dim``.

    SwiGLU: ``round_up(round(expansion * dim * 2 / 3), multiple)`` (the official rule; the 2/3 keeps
    the parameter count of a ``4*dim`` ReLU MLP). ReLU: ``round_up(round(expansion * dim), multiple)``,
    which has the same parameter count as the SwiGLU up to rounding.
    """
    factor = 2 / 3 if mlp_type == "swiglu" else 1.0
    return find_multiple(round(expansion * dim * factor), multiple)


@dataclass(frozen=True)
class TRMConfig:
    """Architecture of a Tiny Recursive Model (TRM) and its ACT halting.

    Defaults are the official Sudoku-Extreme attention model except ``forward_dtype`` (float32,
    the CPU-friendly choice; the paper presets set bfloat16). Build a preset with
    :meth:`TRMConfig.preset`, or translate an official ``arch`` dict with :meth:`from_official`.
    """

    vocab_size: int = 11
    """Number of token ids (Sudoku: pad 0, blank 1, digits 2..10 -> 11; Maze: 6)."""
    seq_len: int = 81
    """Number of grid tokens per example (without the puzzle-embedding prefix)."""
    hidden_size: int = 512
    """Width of every token state (z_H, z_L, embeddings)."""
    num_heads: int = 8
    """Attention heads (head_dim = hidden_size / num_heads); used by attention and RoPE only."""
    expansion: float = 4.0
    """MLP expansion factor before the 2/3 SwiGLU rule (see :func:`mlp_width`)."""
    num_layers: int = 2
    """Blocks in the reasoning network (official ``L_layers``)."""
    H_cycles: int = 3
    """T: rounds per supervision step; the first T-1 run without gradients."""
    L_cycles: int = 6
    """n: latent updates ``z_L <- net(z_L + z_H + x)`` per round, followed by one answer update."""
    mixer: Mixer = "attention"
    """Token mixer: "attention" (non-causal self-attention), "mlp" (SwiGLU over the sequence
    axis, official ``mlp_t``), "conv" (depthwise 3x3 + pointwise conv over the 2-D grid; not
    upstream: cost linear in the cells, and the model accepts grids of any size; prefix
    positions, if any, stay outside the grid and the Q head reads the grid mean) or "units"
    (Sudoku only, not upstream: each cell reads the mean of its peers in its row, its column and
    its box, ``W [mean_row; mean_col; mean_box]`` with one ``D x 3D`` weight; the grid is the
    N x N board of seq_len = N * N cells, N in {4, 6, 9}, boxes 2x2, 2x3, 3x3; 3 D^2 weights
    and about (N^2 + 3N) D^2 multiply-adds per layer, linear in the cells; equivariant under
    the Sudoku symmetries that map rows to rows, columns to columns and boxes to boxes; needs
    pos_encodings="none"; a prefix stays outside the grid as with "conv")."""
    grid_width: int | None = None
    """Columns of the 2-D grid; required by the conv mixer; seq_len = grid rows * grid_width for
    flat inputs. The units mixer takes None or N (its grid is square); other mixers ignore it (it
    only documents the grid)."""
    pos_encodings: PosEncodings = "rope"
    """"rope" (inside attention; no effect with the mlp mixer, as in the official code),
    "learned" (added table, scaled by 1/sqrt(2)), or "none" (required by the conv and units
    mixers)."""
    puzzle_emb_len: int = 16
    """Prefix positions in front of the grid; 0 means ceil(puzzle_emb_ndim / hidden_size)."""
    puzzle_emb_ndim: int | None = None
    """Width of one puzzle-embedding row (zero-padded into the prefix); None = hidden_size,
    0 = no table (the prefix, if any, is then zeros)."""
    num_puzzle_identifiers: int = 1
    """Rows of the puzzle-embedding table (1 for Sudoku/Maze: one shared task token)."""
    halt_max_steps: int = 16
    """N_sup: supervision steps after which a row always halts."""
    halt_exploration_prob: float = 0.1
    """Per-row, per-step probability of drawing a minimum step count in [2, halt_max_steps]."""
    act: bool = True
    """Adaptive halting in training (q_halt > 0). Off: every row runs halt_max_steps steps and the
    ACT loss drops the Q terms (the q_head is still built, so parameter counts are unchanged)."""
    q_continue: bool = False
    """HRM-style Q-learning continue head (official ``no_ACT_continue=False``, crashes upstream):
    halt when q_halt > q_continue; target from one extra no-grad step (see :class:`TRM`)."""
    forward_dtype: ForwardDtype = "float32"
    """Activation dtype; parameters stay float32 and are cast at use (official: bfloat16)."""
    swiglu_multiple: int = 256
    """Round MLP widths up to this multiple (official 256; 1 gives exact widths)."""
    rms_norm_eps: float = 1e-5
    """Epsilon of the parameter-free RMSNorm."""
    rope_theta: float = 10000.0
    """RoPE base."""
    separate_networks: bool = False
    """Ablation: separate networks for the z_L and z_H updates (paper Table 1: 10M params)."""
    single_z: bool = False
    """Ablation: one carried latent (official ``trm_singlez``): n times z <- net(z + x), then
    z <- net(z); heads read z (paper Table 2)."""
    full_backprop: bool = False
    """Ablation: back-propagate through all T rounds instead of only the last one."""
    mlp_type: MLPType = "swiglu"
    """Ablation: "relu" replaces every SwiGLU by a ReLU MLP of width round(expansion * dim)."""

    kind: ClassVar[str] = "trm"
    """Tag of this model family in config dicts and checkpoints."""

    def __post_init__(self) -> None:
        # Types and ranges first (strict: 2.0 is not an int, True is not a size, NaN is not a
        # rate); the values are stored normalised (numpy scalars -> Python, ints -> floats) so
        # that to_dict() is always JSON-serialisable.
        def store(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        for name, low in _INT_FIELDS.items():
            store(name, check_int(f"TRMConfig.{name}", getattr(self, name), low=low))
        for name in ("puzzle_emb_ndim", "grid_width"):
            low = 0 if name == "puzzle_emb_ndim" else 1
            value = getattr(self, name)
            store(name, check_int(f"TRMConfig.{name}", value, low=low, allow_none=True))
        for name in _POSITIVE_FLOAT_FIELDS:
            value = check_float(f"TRMConfig.{name}", getattr(self, name), low=0.0)
            _require(value > 0, f"{name} must be > 0, got {value}")
            store(name, value)
        store(
            "halt_exploration_prob",
            check_float(
                "TRMConfig.halt_exploration_prob", self.halt_exploration_prob, low=0.0, high=1.0
            ),
        )
        for name in _BOOL_FIELDS:
            store(name, check_bool(f"TRMConfig.{name}", getattr(self, name)))
        for name, choices in _CHOICE_FIELDS.items():
            value = getattr(self, name)
            _require(
                isinstance(value, str) and value in choices,
                f"unknown {name} {value!r}; choose one of {list(choices)}",
            )

        # Relations between fields.
        if self.mixer == "conv":
            _require(
                self.grid_width is not None,
                f"the conv mixer needs grid_width (the columns of the grid; seq_len {self.seq_len} "
                "= rows * grid_width), e.g. grid_width=9 for 9x9 grids",
            )
            _require(
                self.pos_encodings == "none",
                f"the conv mixer takes no position encodings (got pos_encodings="
                f"{self.pos_encodings!r}): a learned or RoPE table ties the model to one "
                "grid size, and the zero-padded convolution already sees the grid edges; set "
                "pos_encodings='none'",
            )
        if self.mixer == "units":
            side = math.isqrt(self.seq_len)
            sizes = sorted(SUDOKU_BOX_SHAPES)
            _require(
                side * side == self.seq_len and side in SUDOKU_BOX_SHAPES,
                f"the units mixer needs a square N x N Sudoku with N in {sizes}: seq_len must be "
                f"one of {[n * n for n in sizes]}, got seq_len={self.seq_len}; use another mixer "
                "for other grids",
            )
            _require(
                self.grid_width in (None, side),
                f"the units mixer needs a square grid: grid_width must be None or {side} "
                f"(seq_len {self.seq_len} = {side} x {side}), got grid_width={self.grid_width}",
            )
            _require(
                self.pos_encodings == "none",
                f"the units mixer takes no position encodings (got pos_encodings="
                f"{self.pos_encodings!r}): a cell's row, column and box already place it, and a "
                "position table would break the equivariance under Sudoku symmetries; set "
                "pos_encodings='none'",
            )
        if self.grid_width is not None:
            _require(
                self.seq_len % self.grid_width == 0,
                f"seq_len ({self.seq_len}) must be divisible by grid_width ({self.grid_width}): "
                "seq_len = grid rows * grid_width",
            )
        if self.mixer == "attention" or self.pos_encodings == "rope":
            _require(
                self.hidden_size % self.num_heads == 0,
                f"hidden_size ({self.hidden_size}) must be divisible by num_heads "
                f"({self.num_heads}); pick num_heads among the divisors of hidden_size",
            )
        if self.pos_encodings == "rope":
            _require(
                self.head_dim % 2 == 0,
                f"RoPE needs an even head_dim, got {self.head_dim}; change num_heads",
            )
        _require(
            self.mlp_width >= 1 and (self.mixer != "mlp" or self.seq_mlp_width >= 1),
            f"expansion {self.expansion} gives an MLP of width 0; raise expansion",
        )
        _require(
            self.puzzle_emb_dim <= self.prefix_len * self.hidden_size,
            f"puzzle_emb_ndim ({self.puzzle_emb_dim}) must fit in puzzle_emb_len * hidden_size "
            f"({self.prefix_len} * {self.hidden_size}); raise puzzle_emb_len",
        )
        _require(
            self.puzzle_emb_dim == 0 or self.num_puzzle_identifiers >= 1,
            "num_puzzle_identifiers must be >= 1 when the puzzle embedding is on "
            "(or set puzzle_emb_ndim=0 for no puzzle table)",
        )
        _require(
            self.act or not self.q_continue,
            "q_continue needs act=True (the continue head only matters for adaptive halting)",
        )
        _require(
            not (self.single_z and self.separate_networks),
            "single_z and separate_networks cannot be combined (single_z has one update rule)",
        )

    # ----------------------------------------------------------------------------- derived values
    @property
    def puzzle_emb_dim(self) -> int:
        """Width of one puzzle-embedding row (0: no table)."""
        return self.hidden_size if self.puzzle_emb_ndim is None else self.puzzle_emb_ndim

    @property
    def prefix_len(self) -> int:
        """Number of prefix positions in front of the grid tokens."""
        if self.puzzle_emb_len > 0:
            return self.puzzle_emb_len
        return -(self.puzzle_emb_dim // -self.hidden_size)

    @property
    def total_len(self) -> int:
        """Length of the sequence the network sees: prefix + grid tokens."""
        return self.prefix_len + self.seq_len

    @property
    def any_grid_size(self) -> bool:
        """Whether the model accepts grids of any size as ``[B, H, W]`` inputs (conv mixer)."""
        return self.mixer == "conv"

    @property
    def pooled_q_head(self) -> bool:
        """Whether the Q head reads the mean of ``z_H`` over the grid positions instead of prefix
        position 0: when there is no prefix, and with the conv and units mixers (whose prefix
        never mixes with the grid, so position 0 would know nothing of the puzzle)."""
        return self.prefix_len == 0 or self.mixer in ("conv", "units")

    @property
    def sudoku_board(self) -> tuple[int, int, int] | None:
        """``(N, box_rows, box_cols)`` of the Sudoku board of the units mixer, else None."""
        if self.mixer != "units":
            return None
        side = math.isqrt(self.seq_len)
        return (side, *SUDOKU_BOX_SHAPES[side])

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.hidden_size // self.num_heads

    @property
    def mlp_width(self) -> int:
        """Intermediate width of the channel MLP."""
        return mlp_width(self.hidden_size, self.expansion, self.swiglu_multiple, self.mlp_type)

    @property
    def seq_mlp_width(self) -> int:
        """Intermediate width of the sequence MLP (mixer="mlp")."""
        return mlp_width(self.total_len, self.expansion, self.swiglu_multiple, self.mlp_type)

    @property
    def torch_dtype(self) -> torch.dtype:
        """``forward_dtype`` as a torch dtype."""
        return getattr(torch, self.forward_dtype)

    @property
    def net_calls_per_step(self) -> int:
        """Reasoning-network calls per supervision step: T * (n + 1)."""
        return self.H_cycles * (self.L_cycles + 1)

    @property
    def effective_depth(self) -> int:
        """Paper's effective depth per supervision step: T * (n + 1) * num_layers."""
        return self.net_calls_per_step * self.num_layers

    # ------------------------------------------------------------------------------ constructors
    def replace(self, **changes: Any) -> TRMConfig:
        """A copy with some fields changed (validated again).

        :raises ValueError: for unknown field names or invalid values.
        """
        _check_field_names(changes, "replace")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (JSON-serialisable) with the tag ``"kind": "trm"``, which
        :func:`trm_rl.model.config_from_dict` dispatches on."""
        return {KIND_KEY: self.kind, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TRMConfig:
        """Build from :meth:`to_dict` output; missing fields take their defaults.

        :param data: field name -> value; a ``"kind"`` tag, if present, must be ``"trm"``.
        :raises ValueError: naming unknown fields (and listing the known ones) or invalid values.
        """
        data = without_kind(data, cls.kind, "TRMConfig.from_dict")
        _check_field_names(data, "from_dict")
        return cls(**data)

    @classmethod
    def preset_names(cls) -> list[str]:
        """Names accepted by :meth:`preset`."""
        return list(PRESETS)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> TRMConfig:
        """A named configuration, optionally with some fields overridden.

        :param name: one of :meth:`preset_names` (``paper-*`` reproduce the official models and
            their parameter counts; ``cpu-*`` are small models that train in minutes on 2 cores).
        :param overrides: fields to change, e.g. ``seq_len=225``.
        """
        if not isinstance(name, str) or name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {list(PRESETS)}")
        return cls.from_dict({**PRESETS[name], **overrides})

    @classmethod
    def from_official(cls, arch: dict[str, Any]) -> TRMConfig:
        """Translate the dict the official code passes to ``TinyRecursiveReasoningModel_ACTV1``
        (its ``arch`` config plus ``batch_size``, ``vocab_size``, ``seq_len``,
        ``num_puzzle_identifiers``).

        ``batch_size`` and ``H_layers`` are ignored (as in the official TRM), ``loss`` is the loss
        config and is ignored, ``name`` selects ``trm`` or ``trm_singlez``. Unknown keys and
        unsupported values raise ``ValueError``. The official SwiGLU rounding (256) is used.

        :param arch: the official config dict.
        """
        if not isinstance(arch, Mapping):
            raise ValueError(f"from_official needs the arch dict, got {type(arch).__name__}")
        arch = dict(arch)
        known = {
            "hidden_size", "num_heads", "expansion", "L_layers", "H_cycles", "L_cycles", "mlp_t",
            "pos_encodings", "puzzle_emb_ndim", "puzzle_emb_len", "halt_max_steps",
            "halt_exploration_prob", "no_ACT_continue", "forward_dtype", "vocab_size", "seq_len",
            "num_puzzle_identifiers", "batch_size", "rms_norm_eps", "rope_theta", "H_layers",
            "name", "loss",
        }  # fmt: skip
        unknown = sorted(set(arch) - known)
        if unknown:
            raise ValueError(
                f"from_official: unknown keys {unknown}; supported keys: {sorted(known)}"
            )
        required = ["hidden_size", "num_heads", "expansion", "L_layers", "H_cycles", "L_cycles",
                    "pos_encodings", "halt_max_steps", "halt_exploration_prob", "vocab_size",
                    "seq_len", "num_puzzle_identifiers"]  # fmt: skip
        missing = [k for k in required if k not in arch]
        if missing:
            raise ValueError(f"from_official: missing required keys {missing}")
        single_z = False
        name = arch.get("name")
        if name is not None:
            module = str(name).split("@")[0]
            if module == "recursive_reasoning.trm_singlez":
                single_z = True
            elif module != "recursive_reasoning.trm":
                raise ValueError(
                    f"from_official: unsupported model {name!r}; only recursive_reasoning.trm and "
                    "recursive_reasoning.trm_singlez map onto TRMConfig"
                )
        mlp_t = arch.get("mlp_t", False)
        no_act_continue = arch.get("no_ACT_continue", True)
        for key, value in (("mlp_t", mlp_t), ("no_ACT_continue", no_act_continue)):
            if not isinstance(value, bool):
                raise ValueError(f"from_official: {key} must be a bool, got {value!r}")
        return cls(
            vocab_size=arch["vocab_size"],
            seq_len=arch["seq_len"],
            hidden_size=arch["hidden_size"],
            num_heads=arch["num_heads"],
            expansion=arch["expansion"],
            num_layers=arch["L_layers"],
            H_cycles=arch["H_cycles"],
            L_cycles=arch["L_cycles"],
            mixer="mlp" if mlp_t else "attention",
            pos_encodings=arch["pos_encodings"],
            puzzle_emb_len=arch.get("puzzle_emb_len", 16),
            puzzle_emb_ndim=arch.get("puzzle_emb_ndim", 0),
            num_puzzle_identifiers=arch["num_puzzle_identifiers"],
            halt_max_steps=arch["halt_max_steps"],
            halt_exploration_prob=arch["halt_exploration_prob"],
            q_continue=not no_act_continue,
            forward_dtype=arch.get("forward_dtype", "bfloat16"),
            swiglu_multiple=256,
            rms_norm_eps=arch.get("rms_norm_eps", 1e-5),
            rope_theta=arch.get("rope_theta", 10000.0),
            single_z=single_z,
        )

    def to_official(self, batch_size: int = 1) -> dict[str, Any]:
        """The official ``arch`` dict for this config (inverse of :meth:`from_official`).

        :param batch_size: the official model sizes its puzzle-embedding gradient buffer by it.
        """
        batch_size = check_int("to_official: batch_size", batch_size, low=1)
        unsupported = [
            name for name in ("separate_networks", "full_backprop") if getattr(self, name)
        ]
        if self.mlp_type != "swiglu":
            unsupported.append("mlp_type")
        if not self.act:
            unsupported.append("act")
        if self.swiglu_multiple != 256:
            unsupported.append("swiglu_multiple")
        if self.mixer in ("conv", "units"):
            unsupported.append(f"mixer={self.mixer!r}")
        elif self.pooled_q_head:
            unsupported.append("prefix_len=0 (our Q head then reads the mean over the grid)")
        if unsupported:
            raise ValueError(f"to_official: the official TRM has no equivalent of {unsupported}")
        return {
            "batch_size": batch_size,
            "seq_len": self.seq_len,
            "puzzle_emb_ndim": self.puzzle_emb_dim,
            "num_puzzle_identifiers": self.num_puzzle_identifiers,
            "vocab_size": self.vocab_size,
            "H_cycles": self.H_cycles,
            "L_cycles": self.L_cycles,
            "H_layers": 0,
            "L_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "expansion": self.expansion,
            "num_heads": self.num_heads,
            "pos_encodings": self.pos_encodings,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "halt_max_steps": self.halt_max_steps,
            "halt_exploration_prob": self.halt_exploration_prob,
            "forward_dtype": self.forward_dtype,
            "mlp_t": self.mixer == "mlp",
            "puzzle_emb_len": self.puzzle_emb_len,
            "no_ACT_continue": not self.q_continue,
        }


def without_kind(data: Any, kind: str, where: str) -> dict[Any, Any]:
    """``data`` as a dict without its ``"kind"`` tag, which must be ``kind`` when present.

    :param data: a config dict (from ``to_dict``, or an older one without the tag).
    :param kind: the kind of the config class reading it ("trm", "mlp", "convnet").
    :param where: the caller, for messages.
    :raises ValueError: for a non-dict, or a dict tagged with another kind.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} needs a dict of fields, got {type(data).__name__}")
    data = dict(data)
    tag = data.pop(KIND_KEY, kind)
    if tag != kind:
        raise ValueError(
            f"{where}: the dict describes a model of kind {tag!r}, not {kind!r}; build its "
            "config with trm_rl.model.config_from_dict(d), which dispatches on the kind"
        )
    return data


def _check_field_names(data: Mapping[Any, Any], where: str) -> None:
    """Raise ``ValueError`` naming the keys of ``data`` that are not TRMConfig fields."""
    names = {f.name for f in dataclasses.fields(TRMConfig)}
    unknown = sorted((k for k in data if k not in names), key=str)
    if unknown:
        raise ValueError(
            f"TRMConfig.{where}: unknown fields {unknown}; known fields: {sorted(names)}"
        )


_PAPER = dict(
    hidden_size=512,
    num_heads=8,
    expansion=4.0,
    num_layers=2,
    H_cycles=3,
    puzzle_emb_len=16,
    puzzle_emb_ndim=512,
    num_puzzle_identifiers=1,
    halt_max_steps=16,
    halt_exploration_prob=0.1,
    forward_dtype="bfloat16",
    swiglu_multiple=256,
)
_SUDOKU9 = dict(vocab_size=11, seq_len=81)
_MAZE30 = dict(vocab_size=6, seq_len=900)
_CPU = dict(
    expansion=4.0,
    num_layers=2,
    puzzle_emb_len=1,
    num_puzzle_identifiers=1,
    halt_exploration_prob=0.1,
    forward_dtype="float32",
    swiglu_multiple=1,
)

# Local thinking: the conv mixer, no prefix (the Q head reads the grid mean), the recursion of
# cpu-maze-9x9 (receptive field: 2 * (3 + 1) * 2 = 16 cells per supervision step).
_CONV = dict(
    hidden_size=64,
    num_heads=4,
    mixer="conv",
    pos_encodings="none",
    puzzle_emb_len=0,
    puzzle_emb_ndim=0,
    H_cycles=2,
    L_cycles=3,
    halt_max_steps=8,
)

# Sudoku thinking: the units mixer (row, column and box peers), no prefix (the Q head reads the
# grid mean), the width and recursion of cpu-sudoku-9x9.
_UNITS = dict(
    hidden_size=128,
    num_heads=4,
    mixer="units",
    pos_encodings="none",
    puzzle_emb_len=0,
    puzzle_emb_ndim=0,
    H_cycles=3,
    L_cycles=4,
    halt_max_steps=8,
)

#: Named configurations. ``paper-*``: the official models (parameter counts 5,028,866 /
#: 6,828,034 / 6,822,914 / 18,795,522 as counted by ``model.parameters()``). ``cpu-*``: small
#: models (one prefix position, exact MLP widths, float32) for 2-core CPUs; ``cpu-*-conv``: the
#: conv mixer (no prefix), which also runs on grids of other sizes than the one named;
#: ``cpu-sudoku-units``: the units mixer (no prefix; 4x4 and 6x6 with ``vocab_size``/``seq_len``
#: overrides).
PRESETS: dict[str, dict[str, Any]] = {
    "paper-sudoku-mlp": {**_PAPER, **_SUDOKU9, "mixer": "mlp", "pos_encodings": "none",
                         "L_cycles": 6},
    "paper-sudoku-att": {**_PAPER, **_SUDOKU9, "mixer": "attention", "pos_encodings": "rope",
                         "L_cycles": 6},
    "paper-maze-att": {**_PAPER, **_MAZE30, "mixer": "attention", "pos_encodings": "rope",
                       "L_cycles": 4},
    "paper-maze-mlp": {**_PAPER, **_MAZE30, "mixer": "mlp", "pos_encodings": "none",
                       "L_cycles": 4},
    "cpu-sudoku-4x4": {**_CPU, "vocab_size": 6, "seq_len": 16, "hidden_size": 64,
                       "num_heads": 4, "mixer": "mlp", "pos_encodings": "none", "H_cycles": 2,
                       "L_cycles": 2, "halt_max_steps": 8},
    "cpu-sudoku-6x6": {**_CPU, "vocab_size": 8, "seq_len": 36, "hidden_size": 96,
                       "num_heads": 4, "mixer": "mlp", "pos_encodings": "none", "H_cycles": 2,
                       "L_cycles": 3, "halt_max_steps": 8},
    "cpu-sudoku-9x9": {**_CPU, **_SUDOKU9, "hidden_size": 128, "num_heads": 4, "mixer": "mlp",
                       "pos_encodings": "none", "H_cycles": 3, "L_cycles": 4,
                       "halt_max_steps": 8},
    "cpu-maze-9x9": {**_CPU, "vocab_size": 6, "seq_len": 81, "hidden_size": 128,
                     "num_heads": 4, "mixer": "attention", "pos_encodings": "rope",
                     "H_cycles": 2, "L_cycles": 3, "halt_max_steps": 8},
    "cpu-maze-15x15": {**_CPU, "vocab_size": 6, "seq_len": 225, "hidden_size": 128,
                       "num_heads": 4, "mixer": "attention", "pos_encodings": "rope",
                       "H_cycles": 2, "L_cycles": 3, "halt_max_steps": 8},
    "cpu-maze-conv": {**_CPU, **_CONV, "vocab_size": 6, "seq_len": 121, "grid_width": 11},
    "cpu-sudoku-conv": {**_CPU, **_CONV, **_SUDOKU9, "grid_width": 9},
    "cpu-sudoku-units": {**_CPU, **_SUDOKU9, **_UNITS},
}  # fmt: skip

#: Parameter counts of the official models (``sum(p.numel() for p in model.parameters())``).
OFFICIAL_PARAM_COUNTS: dict[str, int] = {
    "paper-sudoku-mlp": 5_028_866,
    "paper-sudoku-att": 6_828_034,
    "paper-maze-att": 6_822_914,
    "paper-maze-mlp": 18_795_522,
}

__all__ = [
    "KIND_KEY",
    "OFFICIAL_PARAM_COUNTS",
    "PRESETS",
    "SUDOKU_BOX_SHAPES",
    "TRMConfig",
    "find_multiple",
    "mlp_width",
    "without_kind",
]
