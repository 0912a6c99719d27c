"""Benchmark: `hub sync psa-to-docs` against the simulators, and the plain-httpx baseline.

For each size N (companies, 3 contacts each) and for each contender (the hub, the
baseline in bench/baseline.py), on fresh simulators seeded alike:

1. a full run into an empty IT Glue;
2. a re-run with nothing changed;
3. a run after 1 % of the companies changed their name (made through the Autotask API).

Each run is its own process, timed, with its peak memory (VmHWM of that process). The
hub runs twice: as shipped, and with HUB_SYNC_PIN_CPU=false (its threads free to run on
any CPU), so the effect of keeping a sync on one CPU is measured in the same run.
The simulators are served on loopback from this process. IT Glue's published budget
(3,000 requests per 5 minutes) would make a 100,000-company first sync take about 11
hours; the benchmark lifts that budget in the simulator and in the hub's settings so
that what is measured is the hub's own cost, not the vendor's limit.

    python bench/run.py                    # 10,000 and 100,000 companies
    python bench/run.py --sizes 1000       # a quick look
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hub.plugins import HubPlugins
from hub.sandbox import SandboxSet

HERE = Path(__file__).resolve().parent
LIFTED = 10**9
#: the baseline, the hub as shipped, and the hub with HUB_SYNC_PIN_CPU=false
CONTENDERS = ("baseline", "hub", "hub-unpinned")


# Peak memory is VmHWM from /proc: ru_maxrss would carry the parent's peak across fork+exec.
WRAPPER = """
import json, runpy, sys
sys.argv = sys.argv[1:]
code = 0
try:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True) if not sys.argv[0].endswith(".py") \\
        else runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as exc:
    code = exc.code or 0
sys.stdout.flush()
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"peak_rss_mb": round(int(hwm.split()[1]) / 1024, 1)}), file=sys.stderr)
sys.exit(code)
"""


def contender(kind: str, state: Path, env: dict[str, str]) -> dict[str, Any]:
    if kind.startswith("hub"):
        target = ["hub.cli", "sync", "psa-to-docs", "--json"]
        if kind == "hub-unpinned":  # the hub with its threads free to run on any CPU
            env = {**env, "HUB_SYNC_PIN_CPU": "false"}
    else:
        target = [str(HERE / "baseline.py"), str(state)]
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *target], env=env, capture_output=True, timeout=6 * 3600)
    wall = time.perf_counter() - started
    lines = proc.stderr.decode().strip().splitlines()
    if proc.returncode not in ((0, 1) if kind.startswith("hub") else (0,)) or not lines:
        raise SystemExit(f"{kind} failed ({proc.returncode}): {proc.stderr.decode()[-3000:]}")
    result = json.loads(proc.stdout.decode())
    result.update(json.loads(lines[-1]))
    result["wall_s"] = round(wall, 2)
    return result


def change_one_percent(sandboxes: SandboxSet, n: int) -> int:
    """Rename 1 % of the companies through the Autotask API (as a person would)."""
    from hub.app import Hub
    from hub.settings import load_settings

    os.environ.update(sandboxes.env)
    with tempfile.TemporaryDirectory() as tmp:
        hub = Hub(load_settings(state_url=f"sqlite:///{tmp}/changer.sqlite"))
        autotask = hub.connector("autotask")
        ids = sorted(int(i) for i in sandboxes.sandboxes["autotask"].extra["simulator"].tables["Companies"].records)
        step = max(1, len(ids) // max(1, n // 100))
        changed = ids[::step][: max(1, n // 100)]
        for cid in changed:
            current = autotask.get("Companies", str(cid))
            autotask.update("Companies", str(cid), {"companyName": f"{current['companyName'].strip()} (renamed)"})
        hub.close()
    return len(changed)


def bench_size(n: int, kind: str) -> dict[str, Any]:
    classes = HubPlugins().connector_classes()
    options = {
        "autotask": {"size": n, "seed": 1, "hourly_budget": LIFTED},
        "itglue": {"size": 0, "seed": 1, "budget": LIFTED},
    }
    with tempfile.TemporaryDirectory() as tmp, SandboxSet(
        {name: classes[name] for name in options}, options
    ) as sandboxes:
        env = {
            **os.environ,
            **sandboxes.env,
            "HUB_STATE_URL": f"sqlite:///{tmp}/state.sqlite",
            "HUB_ITGLUE__RATE_LIMIT_REQUESTS": str(LIFTED),
            "HUB_LOG_LEVEL": "WARNING",
        }
        state = Path(tmp) / "baseline.json"
        out: dict[str, Any] = {"full": contender(kind, state, env)}
        out["unchanged"] = contender(kind, state, env)
        out["changed_companies"] = change_one_percent(sandboxes, n)
        out["one_percent"] = contender(kind, state, env)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    # Byte-compile the hub as a wheel install would (an editable install never does, and
    # with PYTHONDONTWRITEBYTECODE every run would compile its modules again).
    import compileall

    compileall.compile_dir(HERE.parent / "hub", quiet=1)
    compileall.compile_dir(HERE.parent / "connectors", quiet=1)
    results: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    for n in args.sizes:
        for kind in CONTENDERS:
            print(f"N={n} {kind} ...", file=sys.stderr, flush=True)
            results[f"{n}:{kind}"] = bench_size(n, kind)
            results[f"{n}:{kind}"]["min_autotask_pages"] = math.ceil(n / 500) + math.ceil(3 * n / 500)
            args.out.write_text(json.dumps(results, indent=2))
            print(json.dumps(results[f"{n}:{kind}"]), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
