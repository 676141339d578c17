#!/usr/bin/env python3
"""Fail when the workspace's declared rust-version is below what a locked dependency declares.

`cargo metadata` lists every package of Cargo.lock with its own `rust_version`; the workspace can
only build with a compiler at least as new as the highest of them. (The code's own use of std
items, e.g. `is_multiple_of` from 1.87, is reviewed by hand; only one toolchain is installed here.)
"""
import json
import subprocess
import sys


def version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def main() -> int:
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--offline"],
        check=True, capture_output=True, text=True).stdout)
    members = set(meta["workspace_members"])
    ours = [p for p in meta["packages"] if p["id"] in members]
    missing = [p["name"] for p in ours if not p.get("rust_version")]
    if missing:
        print(f"msrv: {', '.join(missing)} declare no rust-version "
              "(add `rust-version.workspace = true`)")
        return 1
    declared = {version(p["rust_version"]) for p in ours}
    if len(declared) != 1:
        print(f"msrv: workspace members declare {sorted(declared)}; expected one rust-version")
        return 1
    ours = declared.pop()
    needs = max((version(p["rust_version"]), p["name"], p["version"]) for p in meta["packages"]
                if p["id"] not in members and p.get("rust_version"))
    if needs[0] > ours:
        print(f"msrv: rust-version {'.'.join(map(str, ours))} is below {needs[1]} {needs[2]}'s "
              f"{'.'.join(map(str, needs[0]))}; raise it in Cargo.toml")
        return 1
    print(f"msrv: rust-version {'.'.join(map(str, ours))} covers every locked dependency "
          f"(highest: {needs[1]} {needs[2]} needs {'.'.join(map(str, needs[0]))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
