"""One table of ratios for all benchmarks."""

from __future__ import annotations


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def print_table(rows: list[dict]) -> None:
    print()
    print(f"| {'benchmark':<58} | {'value':>9} | {'baseline':>9} | {'ratio':>6} | goal    | met |")
    print(f"|{'-' * 60}|{'-' * 11}|{'-' * 11}|{'-' * 8}|---------|-----|")
    for r in rows:
        ratio = "-" if r.get("ratio") is None else f"x{r['ratio']:.2f}"
        met = "-" if r.get("met") is None else ("yes" if r["met"] else "NO")
        print(
            f"| {r['name']:<58} | {_fmt(r['value']):>9} | {_fmt(r['baseline']):>9} | "
            f"{ratio:>6} | {r['goal']:<7} | {met:<3} |"
        )
