"""Our schedules against the papers' tables, cell by cell (the simulator only; no training).

* Zero Bubble (Qi et al., ICLR 2024), its bubble-rate table on its profiled costs: ZB-1p and ZB-2p
  are the auto-scheduler at ``p`` and ``2p`` microbatches of activations; ours is ``zb-auto`` at
  the same limits, with the paper's memory model (``M_B = 34h + 5as``, ``M_W = 32h`` per token)
  and its bubble rate (``1 - m (F+B+W) / largest rank span``).  Target: within 1 point.
* Controllable memory (Qi et al., NeurIPS 2024), unit costs (each chunk's F = B = W = 1): V-Half
  and V-Min peak activations against the paper's ``(p+2)//2`` and ``(p+4)//3`` microbatches, and
  their bubble rates against 1F1B's, the paper's ``~p/2m`` and ``~2p/3m``, and the authors'
  scheduler (values we computed with their public code at the same shapes).

    .venv/bin/python benchmarks/schedule_papers.py [--quick]
"""

from __future__ import annotations

import argparse
import time

from dataprep.train.schedules import get_schedule, rank_actions, zb_auto_actions
from dataprep.train.simulate import OpCosts, simulate

# model, p, m, T_F, T_B, T_W, T_comm, hidden, heads, paper ZB-1p, paper ZB-2p
ZB_TABLE = [
    ("1.5B", 8, 24, 18522, 18086, 9337, 601, 2304, 24, 0.1585, 0.0433),
    ("1.5B", 8, 32, 18513, 18086, 9331, 626, 2304, 24, 0.1242, 0.0039),
    ("1.5B", 8, 64, 18546, 18097, 9321, 762, 2304, 24, 0.0674, 0.0026),
    ("6.2B", 8, 24, 29718, 29444, 19927, 527, 4096, 32, 0.1323, 0.0029),
    ("6.2B", 8, 32, 29802, 29428, 19530, 577, 4096, 32, 0.1045, 0.0022),
    ("6.2B", 8, 64, 29935, 29621, 19388, 535, 4096, 32, 0.0554, 0.0010),
    ("14.6B", 16, 48, 11347, 11248, 8132, 377, 5120, 40, 0.1397, 0.0066),
    ("14.6B", 16, 64, 11307, 11254, 8101, 379, 5120, 40, 0.1088, 0.0054),
    ("14.6B", 16, 128, 11325, 11308, 8109, 378, 5120, 40, 0.0576, 0.0028),
    ("28.3B", 32, 96, 10419, 10207, 7715, 408, 6144, 48, 0.1421, 0.0038),
    ("28.3B", 32, 128, 10408, 10204, 7703, 408, 6144, 48, 0.1106, 0.0029),
    ("28.3B", 32, 256, 10402, 10248, 7698, 460, 6144, 48, 0.0594, 0.0018),
]
# (schedule, p, m) -> bubble rate of the authors' V-Half/V-Min scheduler at unit costs
AUTHORS_V = {("v-half", 2, 8): 0.0204, ("v-half", 3, 12): 0.0649, ("v-half", 4, 16): 0.0495,
             ("v-half", 6, 24): 0.0710, ("v-half", 8, 32): 0.0813, ("v-min", 2, 8): 0.0588,
             ("v-min", 3, 12): 0.0649, ("v-min", 4, 16): 0.1028, ("v-min", 6, 24): 0.1056,
             ("v-min", 8, 32): 0.1233}


def zero_bubble(rows: list[tuple]) -> None:
    print("Zero Bubble paper, bubble rate (largest rank span), paper vs zb-auto")
    print(f"{'model':6s} {'p':>3s} {'m':>4s} | {'ZB-1p':>7s} {'ours':>7s} {'diff':>6s} | {'ZB-2p':>7s} {'ours':>7s} "
          f"{'diff':>6s} | {'seconds':>7s}")
    for model, p, m, f, b, w, c, h, a, zb1, zb2 in rows:
        costs = OpCosts(f, b, w, c, m_b=34 * h + 5 * a * 1024, m_w=32 * h)
        t0 = time.perf_counter()
        ours = []
        for limit in (p, 2 * p):
            order = zb_auto_actions(p, m, costs, limit * costs.memory(0)[0], metric="span")
            ours.append(simulate(order, lambda s: s, p, costs).span_bubble)
        print(f"{model:6s} {p:3d} {m:4d} | {zb1:7.4f} {ours[0]:7.4f} {100 * (ours[0] - zb1):+6.2f} | {zb2:7.4f} "
              f"{ours[1]:7.4f} {100 * (ours[1] - zb2):+6.2f} | {time.perf_counter() - t0:7.1f}")


def controllable_memory(shapes: list[tuple[int, int]]) -> None:
    print("\nControllable memory paper, unit costs: peak activations (microbatches) and bubble rate")
    print(f"{'schedule':8s} {'p':>3s} {'m':>4s} | {'peak':>5s} {'paper':>5s} | {'bubble':>7s} {'1F1B':>7s} "
          f"{'x 1F1B':>6s} {'paper ~':>8s} {'authors':>8s}")
    for name, rate, memory in (("v-half", lambda p, m: p / (2 * m), lambda p: (p + 2) // 2),
                               ("v-min", lambda p, m: 2 * p / (3 * m), lambda p: (p + 4) // 3)):
        for p, m in shapes:
            spec = get_schedule(name)
            v = simulate(rank_actions(name, p, m), spec.stage_to_rank(p), 2 * p, OpCosts(0.5, 0.5, 0.5))
            one = simulate(rank_actions("1f1b", p, m), lambda s: s, p, OpCosts(1, 1, 1))
            authors = AUTHORS_V.get((name, p, m))
            print(f"{name:8s} {p:3d} {m:4d} | {max(v.peak_inflight) / 2:5.1f} {memory(p):5d} | {v.span_bubble:7.4f} "
                  f"{one.span_bubble:7.4f} {v.span_bubble / one.span_bubble:6.2f} {rate(p, m):8.4f} "
                  f"{authors if authors is not None else '-':>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only the p = 8 rows of the Zero Bubble table")
    args = parser.parse_args()
    zero_bubble([r for r in ZB_TABLE if not args.quick or r[1] == 8])
    controllable_memory([(2, 8), (3, 12), (4, 16), (6, 24), (8, 32)])


if __name__ == "__main__":
    main()
