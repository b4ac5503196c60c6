"""The wheels that travel with the checkout to the GPU machine (bench/gpu_check.sh), and the checks made on them.

The GPU machine has no network and Python 3.12 with the packages listed in bench/device_packages.txt (from the
device notes' KINDS.md). What evoforge needs beyond them is computed here from the dependency closure installed in
this checkout's .venv (markers evaluated for CPython 3.12 on Linux x86_64), and carried as wheels in ``.whl/``.

    .venv/bin/python bench/gpu_wheels.py plan             # what to carry, and why (printed, nothing written)
    .venv/bin/python bench/gpu_wheels.py gather           # download it into .whl/ (needs PyPI; one version each)
    .venv/bin/python bench/gpu_wheels.py check            # .whl/ holds exactly the plan for cp312 x86_64
    .venv/bin/python bench/gpu_wheels.py resolve          # pip resolves evoforge + .whl/ on 3.12 (device stubbed)
    python3 bench/gpu_wheels.py link --site /tmp/site     # on the device: evoforge importable from the checkout
    python3 bench/gpu_wheels.py requirements              # on the device: every carried requirement vs what imports

``plan``/``gather``/``check``/``resolve`` need this checkout's .venv; ``link`` nothing; ``requirements`` only
``packaging``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEVICE_LIST = ROOT / "bench" / "device_packages.txt"
MIB = 1024 * 1024
# markers as they evaluate on the device's python3 (3.12.3, Linux x86_64)
DEVICE_ENV = {
    "python_version": "3.12",
    "python_full_version": "3.12.3",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}
# on the device, but carried anyway at the version tested here
FORCE = {
    "transformers": (
        "the device has 5.17.0, whose TrainingArguments lacks activation_checkpointing (training/trainer.py)"
    ),
    "peft": "its version on the device is unknown; evoforge pins peft>=0.21,<0.22",
}
# evoforge requirements not carried: no GPU step imports them
SKIP = {
    "jieba": "sdist only (19 MB); imported only by Chinese ROUGE (evals/metrics.py)",
    "rouge-score": "sdist only; the package never imports it (evals/metrics.py has its own ROUGE)",
    "torch": "the device's CUDA build is the one to use",
    "boto3": "litellm imports it only for AWS providers (boto3 + botocore: 15 MB)",
}
# files dropped from a carried wheel: the LiteLLM proxy's admin UI (static web pages, 6.6 MB), which the SDK never reads
DROP = ("litellm/proxy/_experimental/out/",)
PURE = ["--implementation", "py", "--abi", "none", "--platform", "any"]
MANYLINUX = ["--implementation", "cp", "--abi", "cp312"] + [
    arg
    for tag in ("manylinux_2_28", "manylinux_2_27", "manylinux_2_24", "manylinux_2_17", "manylinux2014", "manylinux1")
    for arg in ("--platform", f"{tag}_x86_64")
]


def canon(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def device_packages() -> dict[str, str | None]:
    """The device's distributions: name → version where known."""
    found: dict[str, str | None] = {}
    for line in DEVICE_LIST.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.strip().partition("==")
            found[canon(name)] = version or None
    return found


def plan() -> dict[str, tuple[str, str]]:
    """Distributions to carry: name → (version installed here, why), walking evoforge's requirements (and the extras
    they ask for, such as litellm's ``httpx[http2]``, also of a package the device has)."""
    from importlib.metadata import distribution

    from packaging.requirements import Requirement

    device = device_packages()
    carry: dict[str, tuple[str, str]] = {}
    todo: list[tuple[str, frozenset[str], bool]] = [("evoforge", frozenset(), True)]  # (name, extras, carried)
    walked: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras, carried = todo.pop()
        for text in distribution(name).requires or []:
            req = Requirement(text)
            dep = canon(req.name)
            marker = req.marker
            holds = [marker is None or marker.evaluate(DEVICE_ENV | {"extra": e}) for e in ("", *extras)]
            # a carried package needs what holds without extras or with its extras; a device package what its extras add
            if dep in SKIP or not (any(holds) if carried else any(holds[1:]) and not holds[0]):
                continue
            have = device.get(dep)
            if have and not req.specifier.contains(have, prereleases=True):
                reason = f"the device's {have} fails {name}'s {req}"
            elif dep in FORCE:
                reason = FORCE[dep]
            elif dep not in device:
                reason = f"needed by {name}" + (f"[{','.join(sorted(extras))}]" if not carried else "")
            else:
                reason = ""
            if reason and dep not in carry:
                carry[dep] = (distribution(dep).version, reason)
            key = (dep, frozenset(req.extras))
            if (reason or req.extras) and key not in walked:
                walked.add(key)
                todo.append((dep, frozenset(req.extras), dep in carry))
    return dict(sorted(carry.items()))


def wheel_name(path: Path) -> tuple[str, str]:
    """(canonical name, version) of a wheel file."""
    name, version = path.name.split("-")[:2]
    return canon(name), version


def wheels(folder: Path) -> dict[str, list[Path]]:
    """The wheels in ``folder`` by canonical name."""
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("*.whl")):
        found.setdefault(wheel_name(path)[0], []).append(path)
    return found


def download(name: str, version: str, folder: Path) -> None:
    """Fetch ``name==version`` for cp312 x86_64: the pure-python wheel where there is one, else manylinux."""
    base = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(folder)]
    for tags in (PURE, MANYLINUX):
        cmd = [*base, "--python-version", "3.12", *tags, f"{name}=={version}"]
        if subprocess.run(cmd, capture_output=True, text=True).returncode == 0:
            return
    raise SystemExit(f"no cp312 x86_64 wheel of {name}=={version} on the index")


def slim(path: Path) -> None:
    """Rewrite a wheel with LZMA-compressed members (pip reads them with :mod:`zipfile`; the files are unchanged, so
    RECORD's hashes hold) and without the DROP files (and their RECORD lines). A wheel already in LZMA is left."""
    import zipfile

    with zipfile.ZipFile(path) as old:
        if old.infolist()[0].compress_type == zipfile.ZIP_LZMA:
            return
        staging = path.with_suffix(".tmp")
        with zipfile.ZipFile(staging, "w", zipfile.ZIP_LZMA) as new:
            for info in old.infolist():
                data = old.read(info)
                if info.filename.startswith(DROP):
                    continue
                if info.filename.endswith(".dist-info/RECORD"):
                    lines = data.decode().splitlines(keepends=True)
                    data = "".join(line for line in lines if not line.startswith(DROP)).encode()
                new.writestr(info, data, compress_type=zipfile.ZIP_LZMA)
    staging.replace(path)


def gather(folder: Path) -> None:
    """Download the plan into ``folder`` (then :func:`slim` each wheel), dropping other versions and wheels outside
    the plan."""
    folder.mkdir(exist_ok=True)
    wanted = plan()
    for name, paths in wheels(folder).items():
        for path in paths:
            if name not in wanted or wheel_name(path)[1] != wanted[name][0]:
                path.unlink()
    have = wheels(folder)
    for name, (version, _) in wanted.items():
        if name not in have:
            print(f"  download {name}=={version}", flush=True)
            download(name, version, folder)
    for path in sorted(folder.glob("*.whl")):
        slim(path)


def tree_bytes() -> int:
    """Bytes of what travels without carry: tracked and untracked-not-ignored files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum((ROOT / p).stat().st_size for p in listed.split("\0") if p and (ROOT / p).is_file())


def check(folder: Path, limit_mib: float) -> list[str]:
    """Problems with ``folder`` against the plan (empty = ready); prints the wheels and the sizes."""
    problems = []
    wanted, have = plan(), wheels(folder)
    for name, (version, why) in wanted.items():
        paths = have.get(name, [])
        if [wheel_name(p)[1] for p in paths] != [version]:
            problems.append(f"{name}=={version} ({why}): .whl has {[p.name for p in paths] or 'none'}")
        for path in paths:
            tags = path.name.removesuffix(".whl").split("-")[-3:]
            if not (tags[2] == "any" or ("x86_64" in tags[2] and tags[1] in ("cp312", "abi3", "none"))):
                problems.append(f"{path.name}: not for cp312 x86_64")
    problems += [f"{name}: in .whl but not in the plan" for name in have if name not in wanted]
    carried = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    tree = tree_bytes()
    for path in sorted(folder.glob("*.whl"), key=lambda p: -p.stat().st_size):
        print(f"  {path.stat().st_size / MIB:7.2f} MiB  {path.name}  ({wanted.get(wheel_name(path)[0], ('', '?'))[1]})")
    print(f"  .whl {carried / MIB:.1f} MiB + working tree {tree / MIB:.1f} MiB = {(carried + tree) / MIB:.1f} MiB")
    if carried + tree > limit_mib * MIB:
        problems.append(f"{(carried + tree) / MIB:.1f} MiB travels; the limit is {limit_mib} MiB")
    return problems


def pyproject() -> dict[str, Any]:
    """The checkout's ``[project]`` table."""
    import tomllib

    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project


def link(site: Path, root: Path) -> None:
    """Make ``root`` (a checkout, the package ``evoforge`` itself) importable from ``site`` without building it: the
    link ``site/evoforge`` → ``root`` and a dist-info with evoforge's requirements and entry points (the simulated
    LLM provider is found through one). No setuptools, no copy: the code run is the checkout's."""
    project = pyproject()
    site.mkdir(parents=True, exist_ok=True)
    package = site / "evoforge"
    if package.is_symlink() or package.exists():
        package.unlink()
    package.symlink_to(root.resolve(), target_is_directory=True)
    info = site / f"evoforge-{project['version']}.dist-info"
    info.mkdir(exist_ok=True)
    requires = "".join(f"Requires-Dist: {r}\n" for r in project["dependencies"])
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: evoforge\nVersion: {project['version']}\n{requires}")
    groups = {"console_scripts": project.get("scripts", {}), **project.get("entry-points", {})}
    (info / "entry_points.txt").write_text(
        "".join(f"[{g}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n" for g, eps in groups.items())
    )
    (info / "INSTALLER").write_text("bench/gpu_wheels.py link\n")
    (info / "RECORD").write_text("")
    print(f"evoforge {project['version']}: {package} -> {root.resolve()}")


def resolve(folder: Path, venv: Path, python312: str) -> int:
    """``pip install --dry-run --no-index`` of evoforge's requirements (pyproject.toml, less SKIP) and ``folder``'s
    wheels in a Python 3.12 venv whose site-packages holds a metadata-only stub of each device package (its version
    where known, else this .venv's); pip's own resolver then says whether every requirement is met. Returns pip's
    exit status."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([python312, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3.12/site-packages"))
    for name, known in (device_packages() | dict.fromkeys(SKIP)).items():  # SKIP: carried wheels may name them
        try:
            ver = known or version(name)
        except PackageNotFoundError:
            ver = "0"
        info = site / f"{name.replace('-', '_')}-{ver}.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n")
        (info / "INSTALLER").write_text("stub\n")
        (info / "RECORD").write_text("")
    wanted = [r for r in pyproject()["dependencies"] if canon(Requirement(r).name) not in SKIP]
    pip = [python312, "-m", "pip", "--python", str(python), "install", "--dry-run", "--no-index", "-q"]
    cmd = [*pip, "--disable-pip-version-check", "--find-links", str(folder), *wanted]
    done = subprocess.run([*cmd, *map(str, sorted(folder.glob("*.whl")))])
    print(
        f"resolve: pip {'resolved' if done.returncode == 0 else 'could NOT resolve'} evoforge's requirements with "
        f"the {len(list(folder.glob('*.whl')))} wheels and the device's packages (stubs) on Python 3.12"
    )
    return done.returncode


def requirements(site: Path) -> int:
    """On the device: each requirement of evoforge and of the wheels installed in ``site``, checked against the
    versions importable there (``site`` first on PYTHONPATH). Prints the unmet ones; returns how many."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement

    checked = sorted({canon(p.name.split("-")[0]) for p in site.glob("*.dist-info")} | {"evoforge"})
    bad = 0
    for name in checked:
        for text in distribution(name).requires or []:
            req = Requirement(text)
            if canon(req.name) in SKIP or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
                continue
            try:
                have: str | None = distribution(req.name).version
            except PackageNotFoundError:
                have = None
            if have is None or not req.specifier.contains(have, prereleases=True):
                bad += 1
                print(f"  {name} needs {req}: {'missing' if have is None else have}")
    print(f"requirements: {bad} unmet among evoforge and the {len(checked) - 1} wheels in {site} (SKIP: {list(SKIP)})")
    return bad


def main() -> None:
    """Dispatch the subcommands."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["plan", "gather", "check", "resolve", "link", "requirements"])
    parser.add_argument("--dir", type=Path, default=ROOT / ".whl")
    parser.add_argument("--limit-mib", type=float, default=64.0)
    parser.add_argument("--site", type=Path, default=Path("/tmp/site"), help="link, requirements: the target")
    parser.add_argument("--root", type=Path, default=ROOT, help="link: the checkout to link")
    parser.add_argument("--python312", default="python3.12", help="resolve: a Python 3.12 interpreter")
    parser.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "evoforge-gpu-resolve")
    args = parser.parse_args()
    if args.command == "plan":
        for name, (version, why) in plan().items():
            print(f"  {name}=={version}  ({why})")
    elif args.command == "gather":
        gather(args.dir)
    elif args.command == "check":
        problems = check(args.dir, args.limit_mib)
        print("\n".join(f"  MISSING/WRONG: {p}" for p in problems) or "  wheels: ok")
        sys.exit(1 if problems else 0)
    elif args.command == "resolve":
        sys.exit(resolve(args.dir, args.venv, args.python312))
    elif args.command == "link":
        link(args.site, args.root)
    else:
        sys.exit(1 if requirements(args.site) else 0)


if __name__ == "__main__":
    main()
