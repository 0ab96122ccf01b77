"""``make bench``: every benchmark in turn, a markdown table, JSON results, and benchmarks/README.md.

Usage (from the repository root)::

    python -m benchmarks.run_all            # full run, a few minutes on 2 CPU cores; updates README.md
    python -m benchmarks.run_all --quick    # tiny sizes, a smoke run (README.md untouched)
    python -m benchmarks.run_all --only sampler step

Results go to ``benchmarks/results/<benchmark>.json`` (git-ignored) and the table to stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from . import bench_flops, bench_inference, bench_loader, bench_memory, bench_sampler, bench_step
from .common import RESULTS_DIR, machine, write_result

BENCHMARKS = ("flops", "sampler", "step", "memory", "inference", "loader")
README = Path(__file__).resolve().parent / "README.md"
TABLE_START, TABLE_END = "<!-- table start -->", "<!-- table end -->"


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| benchmark | ours | reference | ratio (× better) | target | met | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        target = "" if r["target"] is None else f"≥ {r['target']:.2f}×"
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        lines.append(
            f"| {r['benchmark']} | {r['ours']} | {r['reference']} | {r['ratio']:.2f}× | {target} | {met} | {r['note']} |"
        )
    return "\n".join(lines)


def machine_line(info: dict) -> str:
    gpu = f", GPU {info['gpu']}" if "gpu" in info else ", no GPU"
    return (f"{info['cpu']} ({info['vector_isa']}), {info['cores']} cores, {info['torch_threads']} torch threads, "
            f"torch {info['torch']}, Python {info['python']}{gpu}; 1-min load average at the end "
            f"{info.get('load_average_1min', '?')}")  # fmt: skip


def update_readme(table: str, command: str, info: dict, seconds: float, profile: str = "") -> None:
    """Replace the table between the markers of README.md (the rest of the file is hand-written)."""
    where = (
        f"\n\nWhere one of our training steps spends its time (`torch.profiler`):\n\n```\n{profile.strip()}\n```"
        if profile
        else ""
    )
    block = (f"{TABLE_START}\nCommand: `{command}` ({seconds / 60:.1f} min)  \nMachine: {machine_line(info)}\n\n"
             f"{table}{where}\n{TABLE_END}")  # fmt: skip
    text = README.read_text() if README.exists() else f"# Benchmarks\n\n{TABLE_START}\n{TABLE_END}\n"
    head, rest = text.split(TABLE_START, 1)
    README.write_text(head + block + rest.split(TABLE_END, 1)[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repeats: a smoke run")
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS, default=list(BENCHMARKS), help="benchmarks to run")
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON files go")
    parser.add_argument("--no-readme", action="store_true", help="do not update benchmarks/README.md")
    args = parser.parse_args(argv)
    from n2n_raw.device import pick_device

    device = pick_device(args.device)
    start, rows, results = time.perf_counter(), [], {}
    crop = 64 if args.quick else 256  # bench_step's crop
    for name in BENCHMARKS:
        if name not in args.only:
            continue
        t0 = time.perf_counter()
        if name == "flops":
            conv = bench_flops.conv_throughput(device, quick=args.quick)
            result = {"step_flops": bench_flops.step_flops(4, crop, device), "conv_gflops": conv, "rows": []}
        elif name == "step":
            flops = results.get("flops", {})
            result = bench_step.run(device, args.quick, flops.get("step_flops", 0), flops.get("conv_gflops", {}))
        elif name == "loader":
            result = bench_loader.run(device, args.quick, results.get("step", {}).get("step_seconds", 0.0))
        else:
            result = {"sampler": bench_sampler, "memory": bench_memory, "inference": bench_inference}[name].run(
                device, args.quick
            )
        result["seconds"] = round(time.perf_counter() - t0, 1)
        results[name] = result
        write_result(name + ("_quick" if args.quick else ""), {"quick": args.quick, **result}, args.results_dir)
        rows += result["rows"]
        print(f"[{name}: {result['seconds']:.0f} s]", file=sys.stderr)
    if "flops" in results:
        f = results["flops"]
        conv = ", ".join(f"{k} {v:.1f}" for k, v in f["conv_gflops"].items())
        limits = bench_step.flop_limits(f["step_flops"], f["conv_gflops"])
        note = ", ".join(f"{p} limit {s:.3f} s/step" for p, s in limits.items())
        rows.insert(0, {"benchmark": "FLOP-bound limit per precision", "ours": f"{f['step_flops'] / 1e9:.1f} GFLOP/step",
                        "reference": f"conv GFLOP/s: {conv}", "ratio": 1.0, "target": None, "met": None,
                        "note": note})  # fmt: skip
    table = markdown_table(rows)
    info = machine()
    profile = results.get("step", {}).get("profile", "")
    print(f"\nMachine: {machine_line(info)}\n\n{table}\n\n{profile}")
    command = "make bench" + (" (--quick)" if args.quick else "")
    if not args.quick and not args.no_readme and set(args.only) == set(BENCHMARKS):
        update_readme(table, command, info, time.perf_counter() - start, profile)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(torch.get_num_threads())
    sys.exit(main())
