"""``PuzzleData`` (fixed held-out splits and a training stream) and ``TrainSampler`` (a seeded,
resumable cursor over that stream, one per data-parallel worker).

Build a ``PuzzleData`` with :func:`trm_rl.data.make_data`. Every training example a sampler
returns is checked against the held-out puzzles (and, for sudoku-4x4, the held-out solution
grids) after augmentation, and drawn again if it is one of them, so no val/test puzzle is ever
trained on, whatever the source or the augmentation.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from envs.utils import check_choice, check_int
from trm_rl.data.config import DataConfig, Kind

#: Rounds of redraws before a sampler gives up on finding non-held-out examples.
MAX_REDRAWS = 100
_STATE_KEYS = ("name", "seed", "rank", "world_size", "examples", "bit_generator")

Split = tuple[np.ndarray, np.ndarray]
Augmenter = Callable[[np.random.Generator, np.ndarray, np.ndarray], Split]


class Stream(Protocol):
    """Seeded draws of unaugmented ``(inputs, labels)`` rows (see :mod:`trm_rl.data.streams`)."""

    def draw(self, rng: np.random.Generator, count: int) -> Split: ...


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.uint8)
    a.setflags(write=False)
    return a


class PuzzleData:
    """A supervised puzzle dataset: token grids in the official TRM vocabularies.

    :param config: the config it was built from.
    :param kind: ``"sudoku"`` or ``"maze"``.
    :param grid_shape: (H, W).
    :param vocab_size: token ids are in ``[0, vocab_size)``.
    :param val: validation (inputs, labels), ``[n, H * W]`` each.
    :param test: test (inputs, labels).
    :param stream: the training stream.
    :param augment: whether training draws are augmented.
    :param augmenter: ``(rng, inputs, labels) -> (inputs, labels)``.
    :param num_train: distinct training puzzles of a finite source; None for an endless stream.
    :param heldout_labels: label rows (4x4: the held-out solution grids) a training example must
        not have.
    :param description: one line for logs.
    """

    def __init__(
        self,
        *,
        config: DataConfig,
        kind: Kind,
        grid_shape: tuple[int, int],
        vocab_size: int,
        val: Split,
        test: Split,
        stream: Stream,
        augment: bool,
        augmenter: Augmenter,
        num_train: int | None,
        heldout_labels: np.ndarray | None = None,
        description: str = "",
    ):
        self.config = config
        self.name = config.name
        self.kind = kind
        self.grid_shape = (int(grid_shape[0]), int(grid_shape[1]))
        self.vocab_size = int(vocab_size)
        self.augment = augment
        self.num_train = num_train
        self.description = description
        self._splits = {
            "val": (_frozen(val[0]), _frozen(val[1])),
            "test": (_frozen(test[0]), _frozen(test[1])),
        }
        self._stream = stream
        self._augmenter = augmenter
        self._heldout_inputs = frozenset(
            row.tobytes() for inputs, _ in self._splits.values() for row in inputs
        )
        held = () if heldout_labels is None else _frozen(heldout_labels)
        self._heldout_labels = frozenset(row.tobytes() for row in held)

    @property
    def seq_len(self) -> int:
        """Tokens per example: H * W."""
        return self.grid_shape[0] * self.grid_shape[1]

    def __repr__(self) -> str:
        return f"PuzzleData({self.description or self.name})"

    def split(self, name: str) -> Split:
        """The fixed held-out examples of ``"val"`` or ``"test"``, or ``"all"``: every distinct
        puzzle of a finite source (test, then val, then the training rows), for scoring a
        model on a file it never trained on (Sudoku-Extreme, Maze-Hard).

        :return: (inputs, labels), ``[n, seq_len]`` uint8 each (fresh, writable copies).
        :raises ValueError: for another name (training examples come from :meth:`train_sampler`)
            or ``"all"`` of an endless generated source.
        """
        if name == "train":
            raise ValueError(
                "split('train') does not exist: training examples are drawn (augmented, endless "
                "for generated sources) with data.train_sampler(seed).sample(n)"
            )
        if name == "all":
            rows = getattr(self._stream, "inputs", None), getattr(self._stream, "labels", None)
            if rows[0] is None or rows[1] is None:
                raise ValueError(
                    f"split 'all' takes every puzzle of a finite source (a file or a shipped "
                    f"pool); {self.name} is generated without end: score its test split"
                )
            parts = [self._splits["test"], self._splits["val"], rows]
            return tuple(np.concatenate([p[i] for p in parts]) for i in (0, 1))  # type: ignore[return-value]
        check_choice("split", name, tuple(self._splits))
        inputs, labels = self._splits[name]
        return inputs.copy(), labels.copy()

    def train_sampler(self, seed: int = 0, rank: int = 0, world_size: int = 1) -> TrainSampler:
        """A seeded stream of training examples for data-parallel worker ``rank``."""
        return TrainSampler(self, seed, rank, world_size)

    def heldout_mask(self, inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """(n,) bool: rows that are a val/test puzzle or have a held-out solution grid."""
        rows = zip(np.asarray(inputs, np.uint8), np.asarray(labels, np.uint8), strict=True)
        inputs_set, labels_set = self._heldout_inputs, self._heldout_labels
        return np.array(
            [x.tobytes() in inputs_set or y.tobytes() in labels_set for x, y in rows], dtype=bool
        )

    def draw(self, rng: np.random.Generator, count: int) -> Split:
        """``count`` training examples from ``rng``: drawn, augmented when on, held-out ones
        drawn again. :class:`TrainSampler` is the seeded, resumable way to call it."""
        inputs = np.empty((count, self.seq_len), dtype=np.uint8)
        labels = np.empty_like(inputs)
        todo = np.arange(count)
        for _ in range(MAX_REDRAWS):
            if len(todo) == 0:
                return inputs, labels
            x, y = self._stream.draw(rng, len(todo))
            if self.augment:
                x, y = self._augmenter(rng, x, y)
            bad = self.heldout_mask(x, y)
            inputs[todo[~bad]] = x[~bad]
            labels[todo[~bad]] = y[~bad]
            todo = todo[bad]
        if len(todo) == 0:
            return inputs, labels
        raise RuntimeError(
            f"{self.name}: training draws kept hitting held-out puzzles ({len(todo)} of {count} "
            f"rows after {MAX_REDRAWS} rounds); the source is too small for its val/test sizes"
        )


class TrainSampler:
    """Training examples of one data-parallel worker, reproducible and resumable.

    Worker ``rank`` draws from ``np.random.default_rng([seed, rank])``: workers draw different
    examples, and rank 0 of any world size draws what a single process draws.

    :param data: the dataset.
    :param seed: training stream seed (>= 0).
    :param rank: this worker's index in ``[0, world_size)``.
    :param world_size: number of data-parallel workers (>= 1).
    """

    def __init__(self, data: PuzzleData, seed: int = 0, rank: int = 0, world_size: int = 1):
        self.data = data
        self.seed = check_int("seed", seed, low=0)
        self.world_size = check_int("world_size", world_size, low=1)
        self.rank = check_int("rank", rank, low=0, high=self.world_size - 1)
        self.examples = 0
        self._rng = np.random.default_rng([self.seed, self.rank])

    def sample(self, n: int) -> Split:
        """The next ``n`` training examples: (inputs, labels), ``[n, seq_len]`` uint8 each."""
        n = check_int("n", n, low=1)  # type: ignore[assignment]
        out = self.data.draw(self._rng, n)
        self.examples += n
        return out

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (the generator state included): :meth:`load_state_dict` of it
        continues with exactly the examples this sampler would have drawn next."""
        return {
            "name": self.data.name,
            "seed": self.seed,
            "rank": self.rank,
            "world_size": self.world_size,
            "examples": self.examples,
            "bit_generator": copy.deepcopy(self._rng.bit_generator.state),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a :meth:`state_dict` of a sampler of the same data and rank.

        :raises ValueError: for missing keys, another dataset or rank, or a bad generator state.
        """
        if not isinstance(state, Mapping) or set(_STATE_KEYS) - set(state):
            got = sorted(state) if isinstance(state, Mapping) else type(state).__name__
            raise ValueError(
                f"sampler state must be a dict with keys {list(_STATE_KEYS)} (from "
                f"TrainSampler.state_dict), got {got}"
            )
        for key, mine in (("name", self.data.name), ("rank", self.rank)):
            if state[key] != mine:
                raise ValueError(
                    f"sampler state is for {key} {state[key]!r}, this sampler has {mine!r}; "
                    "resume each worker from its own state with the same DataConfig"
                )
        try:
            rng = np.random.default_rng([self.seed, self.rank])
            rng.bit_generator.state = copy.deepcopy(dict(state["bit_generator"]))
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"sampler state has a bad bit_generator entry: {exc}") from None
        self._rng = rng
        self.seed = check_int("seed", state["seed"], low=0)  # type: ignore[assignment]
        self.examples = check_int("examples", state["examples"], low=0)  # type: ignore[assignment]
