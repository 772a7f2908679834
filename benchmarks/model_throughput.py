"""Throughput of one TRM supervision step (ACT forward + loss + backward) per preset.

For every (preset, dtype) one timing process builds all variants, warms each up (compilation
happens there) and then times them round-robin, one step each per round, so every variant sees
the same machine load; the table reports the *fastest* step of each variant (the least disturbed
estimate on a shared machine) and the median, and ratios of the fastest steps. Peak memory comes
from a separate short process per variant: CPU peak RSS (``resource.getrusage``), CUDA
``torch.cuda.max_memory_allocated``.

Variants: ``ours-eager``, ``ours-compiled`` (``TRM.compile_network()``) and, with
``--official-repo``, ``official-eager`` and ``official-compiled`` (``torch.compile`` of the
official ``ACTLossHead``, as its ``pretrain.py`` does). The official code needs ``pydantic`` and
``einops`` importable by the Python running this script. With official variants the ``cpu-*``
presets are run with the official width rounding (``swiglu_multiple=256``) so that the math is
identical.

Examples::

    python benchmarks/model_throughput.py --presets cpu-sudoku-9x9 --repeats 3
    python benchmarks/model_throughput.py --official-repo /path/to/TinyRecursiveModels
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from envs.utils import atomic_write

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PRESETS = ["cpu-sudoku-4x4", "cpu-sudoku-9x9", "cpu-maze-9x9", "paper-sudoku-mlp", "paper-sudoku-att"]  # fmt: skip
VARIANTS = ["official-eager", "ours-eager", "ours-compiled", "official-compiled"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--presets", nargs="+", default=DEFAULT_PRESETS, help="TRMConfig presets to run")
    p.add_argument("--batch-size", type=int, default=64, help="batch size of the cpu-* presets")
    p.add_argument(
        "--paper-batch-size", type=int, default=8, help="batch size of the paper-* presets"
    )
    p.add_argument(
        "--dtypes",
        nargs="+",
        default=["float32", "bfloat16"],
        choices=["float32", "bfloat16"],
        help="forward dtypes of the cpu-* presets",
    )
    p.add_argument(
        "--paper-dtypes",
        nargs="+",
        default=None,
        choices=["float32", "bfloat16"],
        help="forward dtypes of the paper-* presets (default: float32 on CPU, where "
        "bfloat16 without hardware support is far slower; both on CUDA)",
    )
    p.add_argument(
        "--variants",
        nargs="+",
        default=["ours-eager", "ours-compiled"],
        choices=VARIANTS,
        help="implementations; official-eager is added when --official-repo is given",
    )
    p.add_argument("--repeats", type=int, default=3, help="timed steps per variant (cpu-* presets)")
    p.add_argument(
        "--paper-repeats", type=int, default=2, help="timed steps per variant (paper-* presets)"
    )
    p.add_argument("--warmup", type=int, default=1, help="untimed steps per variant first")
    p.add_argument("--no-memory", action="store_true", help="skip the per-variant memory runs")
    p.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda"],
        help="auto = cuda when available",
    )
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    p.add_argument(
        "--official-repo",
        type=Path,
        default=None,
        help="checkout of SamsungSAILMontreal/TinyRecursiveModels (adds official variants)",
    )
    p.add_argument(
        "--out-dir",
        type=Path,
        default=ROOT / "results" / "benchmarks",
        help="where to write model_throughput.{md,json}",
    )
    p.add_argument("--no-write", action="store_true", help="print the table only")
    p.add_argument("--append", action="store_true",
                   help="add the rows to the existing results instead of replacing them")  # fmt: skip
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # internal: JSON spec
    return p.parse_args(argv)  # fmt: skip


# ---------------------------------------------------------------------------------------- worker
def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _build(variant: str, spec: dict, torch):
    """Return ``one_step(carry) -> carry``, the initial carry and the module of a variant."""
    sys.path.insert(0, str(ROOT))
    from trm_rl.model import TRM, TRMConfig
    from trm_rl.model.losses import act_loss

    device = torch.device(spec["device"])
    cfg = TRMConfig.preset(spec["preset"], forward_dtype=spec["dtype"], **spec["overrides"])
    size = spec["batch_size"]
    gen = torch.Generator().manual_seed(0)
    batch = {
        "inputs": torch.randint(1, cfg.vocab_size, (size, cfg.seq_len), generator=gen).int(),
        "labels": torch.randint(1, cfg.vocab_size, (size, cfg.seq_len), generator=gen),
        "puzzle_identifiers": torch.zeros(size, dtype=torch.int32),
    }
    batch = {k: v.to(device) for k, v in batch.items()}
    torch.manual_seed(0)
    if variant.startswith("official"):
        sys.path.insert(0, spec["official_repo"])
        from models.losses import ACTLossHead
        from models.recursive_reasoning.trm import TinyRecursiveReasoningModel_ACTV1

        with device:
            model = ACTLossHead(
                TinyRecursiveReasoningModel_ACTV1(cfg.to_official(batch_size=size)),
                "stablemax_cross_entropy",
            ).train()
        call = torch.compile(model) if variant == "official-compiled" else model

        def one_step(carry):
            carry, loss, _, _, _ = call(return_keys=[], carry=carry, batch=batch)
            (loss / size).backward()
            return carry

    else:
        with device:
            model = TRM(cfg).train()
        if variant == "ours-compiled":
            model.compile_network()

        def one_step(carry):
            carry, outputs = model(carry, batch)
            (act_loss(outputs, carry).loss / size).backward()
            return carry

    with device:
        carry = model.initial_carry(batch)
    return one_step, carry, model


def run_worker(spec: dict) -> dict:
    """``mode="time"``: all variants, round-robin timing. ``mode="memory"``: one variant."""
    import torch

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    cuda = spec["device"].startswith("cuda")

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    built, out = {}, {}
    base_rss = _max_rss_mb()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for variant in spec["variants"]:
        one_step, carry, model = _build(variant, spec, torch)
        start = time.perf_counter()
        for _ in range(spec["warmup"]):
            carry = one_step(carry)
            model.zero_grad(set_to_none=True)
        sync()
        params = sum(p.numel() for p in model.parameters())
        out[variant] = {"warmup_s": time.perf_counter() - start, "step_s": [], "params": params}
        built[variant] = [one_step, carry, model]
    if spec["mode"] == "memory":
        (variant,) = spec["variants"]
        one_step, carry, model = built[variant]
        one_step(carry)
        sync()
        out[variant]["peak_rss_mb"] = _max_rss_mb()
        out[variant]["rss_growth_mb"] = _max_rss_mb() - base_rss
        if cuda:
            out[variant]["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
        return out
    for _ in range(spec["repeats"]):
        for variant, entry in built.items():
            one_step, carry, model = entry
            start = time.perf_counter()
            entry[1] = one_step(carry)
            sync()
            out[variant]["step_s"].append(time.perf_counter() - start)
            model.zero_grad(set_to_none=True)
    return out


def _spawn(spec: dict) -> dict | None:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"[{spec['preset']} {spec['dtype']} {spec['variants']}] failed:\n"
              f"{proc.stderr[-3000:]}", file=sys.stderr)  # fmt: skip
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -------------------------------------------------------------------------------------- driver
def machine_info(threads: int, device: str) -> dict:
    import torch

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": threads or torch.get_num_threads(),
        "device": device,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker is not None:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return

    sys.path.insert(0, str(ROOT))
    from trm_rl.model import TRMConfig
    from trm_rl.utils import resolve_device

    device = str(resolve_device(args.device))
    paper_dtypes = args.paper_dtypes or (
        ["float32"] if device == "cpu" else ["float32", "bfloat16"]
    )
    variants = list(args.variants)
    if args.official_repo is not None and "official-eager" not in variants:
        variants.insert(0, "official-eager")
    variants.sort(key=VARIANTS.index)
    if any(v.startswith("official") for v in variants) and args.official_repo is None:
        sys.exit("official variants need --official-repo PATH")
    info = machine_info(args.threads, device)
    print(HEADER + "\n" + SEPARATOR, flush=True)
    records: list[dict] = []
    for preset in args.presets:
        paper = preset.startswith("paper-")
        overrides = {}
        if args.official_repo is not None and TRMConfig.preset(preset).swiglu_multiple != 256:
            overrides = {"swiglu_multiple": 256}  # the official code rounds widths to 256
        for dtype in paper_dtypes if paper else args.dtypes:
            spec = {
                "preset": preset, "dtype": dtype, "device": device, "overrides": overrides,
                "batch_size": args.paper_batch_size if paper else args.batch_size,
                "repeats": args.paper_repeats if paper else args.repeats,
                "warmup": args.warmup, "threads": args.threads,
                "official_repo": str(args.official_repo.resolve()) if args.official_repo else None,
            }  # fmt: skip
            memory = {}
            if not args.no_memory:
                for variant in variants:
                    found = _spawn({**spec, "variants": [variant], "mode": "memory", "warmup": 1})
                    memory[variant] = (found or {}).get(variant, {})
            timing = _spawn({**spec, "variants": variants, "mode": "time"})
            if timing is None:
                continue
            new = []
            for variant in variants:
                steps = timing[variant]["step_s"]
                new.append({
                    "preset": preset, "overrides": overrides, "dtype": dtype, "variant": variant,
                    "batch_size": spec["batch_size"], "params": timing[variant]["params"],
                    "step_s_min": min(steps), "step_s_median": statistics.median(steps),
                    "step_s_all": [round(s, 4) for s in steps],
                    "samples_per_s": spec["batch_size"] / min(steps),
                    "warmup_s": timing[variant]["warmup_s"],
                    **{k: v for k, v in memory.get(variant, {}).items() if k.endswith("_mb")},
                })  # fmt: skip
            records += new
            for record in new:
                print(_row(record, records), flush=True)
    info["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    runs = [{"machine": info, "args": _jsonable(vars(args))}]
    json_path = args.out_dir / "model_throughput.json"
    if args.append and json_path.exists():
        previous = json.loads(json_path.read_text())
        runs = previous["runs"] + runs
        records = previous["results"] + records
    table = _table(records, runs)
    print(table)
    if not args.no_write:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        payload = {"runs": runs, "results": records}
        with atomic_write(json_path) as f:
            f.write(json.dumps(payload, indent=2) + "\n")
        with atomic_write(args.out_dir / "model_throughput.md") as f:
            f.write(table + "\n")


def _jsonable(d: dict) -> dict:
    out = {k: v for k, v in d.items() if k != "worker"}
    for key in ("out_dir", "official_repo"):  # no machine paths in committed results
        if out.get(key) is not None:
            out[key] = Path(out[key]).name
    return out


def _ratio(record: dict, records: list[dict], variant: str) -> str:
    for other in records:
        same = (other["preset"], other["dtype"]) == (record["preset"], record["dtype"])
        if same and other["variant"] == variant:
            return f"{record['samples_per_s'] / other['samples_per_s']:.2f}x"
    return "-"


HEADER = ("| preset | batch | dtype | variant | samples/s | fastest s/step | median s/step |"
          " vs official-eager | vs ours-eager | peak memory MB | warm-up s |")  # fmt: skip
SEPARATOR = "|" + "---|" * (HEADER.count("|") - 1)


def _row(r: dict, records: list[dict]) -> str:
    if "cuda_peak_mb" in r:
        mem = f"{r['cuda_peak_mb']:.0f} (CUDA)"
    elif "peak_rss_mb" in r:
        mem = f"{r['peak_rss_mb']:.0f} (RSS; +{r['rss_growth_mb']:.0f} in steps)"
    else:
        mem = "-"
    name = r["preset"] + (" (x256 widths)" if r.get("overrides") else "")
    return (f"| {name} | {r['batch_size']} | {r['dtype']} | {r['variant']} | "
            f"{r['samples_per_s']:.1f} | {r['step_s_min']:.3f} | {r['step_s_median']:.3f} | "
            f"{_ratio(r, records, 'official-eager')} | {_ratio(r, records, 'ours-eager')} | "
            f"{mem} | {r['warmup_s']:.1f} |")  # fmt: skip


def _table(records: list[dict], runs: list[dict]) -> str:
    lines = ["# TRM model throughput: one supervision step (forward + loss + backward)", ""]
    for run in runs:
        info = run["machine"]
        gpu = f", {info['gpu']}" if "gpu" in info else ""
        lines.append(
            f"Run {info['date']}: {info['cpu']} ({info['cpu_count']} CPUs, "
            f"{info['torch_threads']} torch threads), device {info['device']}{gpu}; "
            f"torch {info['torch']}, Python {info['python']}; load average "
            f"{info['load_average_start']} -> {info.get('load_average_end')}."
        )
    lines += [
        "",
        "Generated by `python benchmarks/model_throughput.py` (see `--help`). Variants of one "
        "preset/dtype were timed round-robin in one process; samples/s and ratios use each "
        "variant's fastest step (the machine is shared: read the ratios).",
        "",
        HEADER,
        SEPARATOR,
    ]
    lines += [_row(r, records) for r in records]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
