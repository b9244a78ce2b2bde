#!/usr/bin/env python3
"""Prints the medians of the last `cargo bench --bench tokens` run as Markdown tables,
with the ratios the performance budget is stated in (docs/PERFORMANCE.md is made from it).

    cargo bench --bench tokens && python3 benches/report.py
"""
import json, os, sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "criterion")

GROUPS = [
    "fernet_decrypt_64B", "fernet_decrypt_backup_64B", "fernet_encrypt_64B",
    "edgecast_decrypt_94B", "edgecast_encrypt_94B",
    "sealed_open_64B", "sealed_seal_64B",
    "login_verify", "login_issue", "api_verify", "device_verify", "cachelink_open", "cachelink_sign",
    "sealed_open_size", "sealed_open_threads",
]


def median(group, function):
    path = os.path.join(ROOT, group, function, "new", "estimates.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


def functions(group):
    d = os.path.join(ROOT, group)
    if not os.path.isdir(d):
        return []
    return sorted(f for f in os.listdir(d) if f != "report" and os.path.isdir(os.path.join(d, f)))


def ns(v):
    return f"{v / 1000:.2f} µs" if v >= 1000 else f"{v:.0f} ns"


def main():
    m = {g: {f: median(g, f) for f in functions(g)} for g in GROUPS}
    print("| group | function | median |")
    print("|---|---|---:|")
    for g in GROUPS:
        for f, v in m[g].items():
            if v is not None and g not in ("sealed_open_threads",):
                print(f"| `{g}` | `{f}` | {ns(v)} |")
    print()
    r = lambda g, a, b: m[g].get(a) / m[g].get(b) if m[g].get(a) and m[g].get(b) else float("nan")
    checks = [
        ("sealed_open_64B: fwtoken-primary / floor", r("sealed_open_64B", "fwtoken-primary", "floor"), "<= 1.15"),
        ("sealed_open_64B: fwtoken-primary / fernet-rs", r("sealed_open_64B", "fwtoken-primary", "fernet-rs"), "<= 0.5"),
        ("sealed_open_64B: floor / fernet-rs", r("sealed_open_64B", "floor", "fernet-rs"), "(the floor itself)"),
        ("sealed_open_64B: fwtoken-backup / fwtoken-primary", r("sealed_open_64B", "fwtoken-backup", "fwtoken-primary"), "<= 1.1"),
        ("fernet_decrypt_64B: fwtoken / floor", r("fernet_decrypt_64B", "fwtoken", "floor"), "<= 1.15"),
        ("fernet_decrypt_64B: fwtoken / fernet-rs", r("fernet_decrypt_64B", "fwtoken", "fernet-rs"), "<= 0.5"),
        ("fernet_decrypt_64B: floor / fernet-rs", r("fernet_decrypt_64B", "floor", "fernet-rs"), "(the floor itself)"),
        ("fernet_decrypt_backup_64B: fwtoken / fernet-rs", r("fernet_decrypt_backup_64B", "fwtoken", "fernet-rs"), "<= 0.5"),
        ("edgecast_decrypt_94B: fwtoken / ectoken", r("edgecast_decrypt_94B", "fwtoken", "ectoken"), "<= 0.7"),
    ]
    print("| ratio | measured | budget |")
    print("|---|---:|---|")
    for name, v, budget in checks:
        print(f"| {name} | {v:.2f} | {budget} |")
    fw = m["login_verify"].get("fwtoken-fotoweb")
    if fw:
        print(f"| login_verify fwtoken-fotoweb median | {ns(fw)} | < 400 ns |")
    print()
    sizes = m["sealed_open_size"]
    if sizes:
        print("| payload bytes | median | ns per extra byte since previous |")
        print("|---:|---:|---:|")
        prev = None
        for f in sorted(sizes, key=int):
            v = sizes[f]
            step = "" if prev is None else f"{(v - prev[1]) / (int(f) - prev[0]):.2f}"
            print(f"| {f} | {ns(v)} | {step} |")
            prev = (int(f), v)
        print()
    t = m["sealed_open_threads"]
    if t.get("1") and t.get("2"):
        # Each iteration of the 2-thread case opens 2 tokens (one per thread).
        one, two = 1e9 / t["1"], 2e9 / t["2"]
        print(f"| threads | tokens opened per second |\n|---:|---:|\n| 1 | {one:,.0f} |\n| 2 | {two:,.0f} |")
        print(f"\nscaling: {two / one:.2f} x (budget >= 1.8 x)")


if __name__ == "__main__":
    sys.exit(main())
