"""The Tiny Recursive Model: config, layers, the recursion with its ACT carry, the batch
contract, losses, and checkpoints (safetensors with the config inside + a ``config.json`` copy,
import of official state dicts); and the baselines matched to it in parameters.

Quick start::

    from trm_rl.model import TRM, TRMConfig
    from trm_rl.model.losses import act_loss

    model = TRM(TRMConfig.preset("cpu-sudoku-9x9"))
    carry = model.initial_carry(batch)          # batch: inputs [B, 81], labels [B, 81]
    carry, outputs = model(carry, batch)        # one supervision step
    act_loss(outputs, carry).loss.backward()
    answers = model.solve(batch["inputs"]).predictions

Modules: ``config`` (:class:`TRMConfig`, presets), ``layers`` (RMSNorm, SwiGLU, RoPE, attention,
the 3x3 :class:`~trm_rl.model.layers.GridConv`, the Sudoku :class:`~trm_rl.model.layers.UnitMixer`),
``trm`` (the recursion and ACT), ``batch``
(the batch contract), ``losses``, ``checkpoint``, ``one_shot`` (the TRM interface for one-shot
predictors), ``baselines`` (:class:`MLPModel`, :class:`ConvNetModel` and their matching to a
TRM's parameter count; re-exported by ``baselines.models``), ``recurrent_conv``
(:class:`DTNetModel`: a weight-tied recurrent conv net with recall and progressive training,
Bansal et al. 2022, the "does recursion help?" control; :func:`matched_dtnet_config`),
``registry`` (:func:`build_model`, :func:`config_from_dict`: the one fixed mapping kind ->
classes).

**Local thinking** (``mixer="conv"``, presets ``cpu-maze-conv``, ``cpu-sudoku-conv``; not
upstream). The token mixer is a depthwise 3x3 + pointwise convolution over the 2-D grid
(``grid_width`` columns; zero padding at the edges), in the same post-norm block
``h = rms_norm(h + conv(h)); h = rms_norm(h + mlp(h))``. Cost grows with the number of cells,
not its square, and nothing has a per-position weight (``H_init``/``L_init`` are per-channel,
position encodings are refused), so a model trained on 11x11 grids runs on 15x15 or 31x31 ones:
pass ``inputs`` as ``[B, H, W]`` (labels ``[B, H, W]`` or ``[B, H * W]``); logits, predictions
and the carry are flat over the ``H * W`` cells, and a carry serves one grid size. Puzzle-prefix
positions, if any, lie outside the grid: they only pass through the norms and the channel MLP,
so they never reach the grid and the Q head reads the grid mean (the conv presets have no
prefix).

**Sudoku thinking** (``mixer="units"``, preset ``cpu-sudoku-units``; not upstream). The token
mixer of each block reads the Sudoku units: a cell adds ``W [mean of its row peers; mean of its
column peers; mean of its box peers]`` (the other N-1 cells of each unit; one ``D x 3D`` weight
shared by all units of a type), in the same post-norm block ``h = rms_norm(h + units(h));
h = rms_norm(h + mlp(h))``, with the recursion unchanged. The board is the N x N grid of
``seq_len = N * N`` row-major cells, N in {4, 6, 9} with 2x2, 2x3 and 3x3 boxes
(:data:`~trm_rl.model.config.SUDOKU_BOX_SHAPES`, as in ``envs.sudoku``). Cost per layer:
``3 D^2`` weights (the sequence-MLP mixer: ``3 L W``, L = prefix + cells) and ``(N^2 + 3N) D^2``
multiply-adds (the projections act on the unit sums and on each cell's own share), linear in the
cells. No weight depends on a position (``pos_encodings="none"`` is required), so the model is
equivariant under the Sudoku symmetries that map rows to rows, columns to columns and boxes to
boxes (rows within a band, bands, columns within a stack, stacks); it is not under the transpose
(rows and columns have their own weights). Prefix positions, if any, stay outside the board as
with the conv mixer, and the Q head reads the board mean (the preset has no prefix).

**Baselines** (one-shot, same interface: ``initial_carry``, ``forward``, ``solve``,
``check_batch``, ``num_parameters``): every forward is a complete prediction, every row halts
after it (``steps == 1``), and a Q head predicts exact correctness, so ``act_loss`` trains and
scores them unchanged. The recurrent conv net (``"dtnet"``) has the same interface but carries
its latent between supervision steps, as the TRM does (``halt_max_steps`` of them in training,
``solve(max_steps=N)`` at test time). Checkpoints of every kind share one format: the config
JSON carries ``"kind"`` ("trm", "mlp", "convnet", "dtnet"; none = "trm").

With the same weights and float32 activations, logits, Q logits, carries and halting decisions are
bitwise equal to the official ``TinyRecursiveReasoningModel_ACTV1``, so is the loss with
``precision="float64"``, and gradients agree to ~1e-6 (``tests/test_model_official_parity.py``);
one ``torch.manual_seed`` gives the same initial weights as the official constructor.

Where we differ from the official code (each deliberate):

* ``TRMConfig.forward_dtype`` defaults to float32 (the paper presets set bfloat16, as upstream).
  ``H_init``/``L_init`` are stored in float32 and cast at use (upstream stores them in the forward
  dtype); importing converts bf16 values exactly.
* The puzzle-embedding table stays a persistent buffer (so parameter counts match the paper), but
  needs no batch-size-shaped gradient buffers: a training lookup returns a leaf tensor, and
  :meth:`PuzzleEmbedding.sparse_grad` / :meth:`PuzzleEmbedding.sign_sgd_step` give the trainer
  the official SignSGD update.
* ``q_continue=True`` works (upstream crashes unpacking 5 values from 3): HRM's Q-learning target
  from one extra no-grad step, training only.
* ``act=False`` (not upstream): rows always run ``halt_max_steps`` steps, no Q loss.
* Stablemax cross-entropy runs in float32 as ``log1p(sum_{j!=y} s_j / s_y)`` (equal to the float64
  formula to ~1e-6 relative; ``precision="float64"`` is the upstream computation); its ``s(x)``
  has NaN-free gradients. The softmax option works (upstream passes an unsupported
  ``valid_mask`` argument to it).
* ``puzzle_emb_ndim=0`` with a prefix gives zero prefix tokens (upstream mis-slices the output).
* Without a prefix (``prefix_len == 0``) the Q head reads the mean of ``z_H`` over the grid
  (upstream reads grid cell 0); ``to_official`` refuses such configs.
* ``mixer="conv"``, ``mixer="units"`` and ``grid_width`` (see above) are ours; ``to_official``
  refuses both mixers. ``TRMConfig.to_dict`` adds the tag ``"kind": "trm"``, which ``from_dict`` accepts.
* :meth:`TRM.solve` adds inference with early stopping (``q_halt > 0``); ``forward`` in eval mode
  never halts early, as upstream.
* Ablations are flags: ``separate_networks``, ``single_z`` (upstream ``trm_singlez``),
  ``full_backprop``, ``mlp_type="relu"``.
* Inputs are checked where they enter (``initial_carry``, ``forward``, ``solve``; see
  :mod:`trm_rl.model.batch`): integer ``[B, seq_len]`` tokens in ``[0, vocab_size)``, labels in
  range or ``-100``, puzzle ids in range; upstream indexes out of range (a CUDA assert).
* ``load_official_state_dict`` is all or nothing: every key, shape and dtype is checked before
  the first copy, and two input names for one weight are refused.
"""

from trm_rl.model.baselines import (
    ConvNetConfig,
    ConvNetModel,
    MLPConfig,
    MLPModel,
    matched_convnet_config,
    matched_mlp_config,
)
from trm_rl.model.config import OFFICIAL_PARAM_COUNTS, PRESETS, SUDOKU_BOX_SHAPES, TRMConfig
from trm_rl.model.recurrent_conv import DTNetConfig, DTNetModel, matched_dtnet_config
from trm_rl.model.registry import MODEL_KINDS, Model, ModelConfig, build_model, config_from_dict
from trm_rl.model.trm import TRM, InnerCarry, PuzzleEmbedding, SolveResult, TRMCarry

__all__ = [
    "MODEL_KINDS",
    "OFFICIAL_PARAM_COUNTS",
    "PRESETS",
    "SUDOKU_BOX_SHAPES",
    "TRM",
    "ConvNetConfig",
    "ConvNetModel",
    "DTNetConfig",
    "DTNetModel",
    "InnerCarry",
    "MLPConfig",
    "MLPModel",
    "Model",
    "ModelConfig",
    "PuzzleEmbedding",
    "SolveResult",
    "TRMCarry",
    "TRMConfig",
    "build_model",
    "config_from_dict",
    "matched_convnet_config",
    "matched_dtnet_config",
    "matched_mlp_config",
]
