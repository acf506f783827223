"""An optional compiled build of the sans-IO SIP core and the uaCSTA dialog core
with mypyc (it comes with mypy; the modules are already ``mypy --strict``).

    uv run python packaging/compile.py BUILD_DIR

copies ``src/uacsta`` to ``BUILD_DIR/uacsta`` and compiles the modules in
:data:`COMPILED` there into C extensions next to their sources.  Run the server
from that tree with ``PYTHONPATH=BUILD_DIR uacsta serve`` (or the benchmarks, to
measure it: ``bench/README.md`` has the A/B).  The pure-Python package stays the
default and the fallback: nothing else changes, and a module not listed runs as
Python in the compiled tree too.  Needs a C compiler and the Python headers
(Debian: ``gcc python3-dev``).

Not compiled yet, and why: ``csta/`` builds its enums with the functional Enum
API and generates its encoders at run time, neither of which mypyc compiles;
``sip/transaction.py`` has a dataclass field typed ``object`` that mypyc 1.x
refuses.  ``tests/interop/test_compiled.py`` builds this and runs the cores'
unit tests against it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The message parsers and the dialog core: what every SIP message goes through.
COMPILED = [
    "sip/errors.py",
    "sip/grammar.py",
    "sip/headers.py",
    "sip/uri.py",
    "sip/address.py",
    "sip/message.py",
    "sip/framer.py",
    "sip/digest.py",
    "sip/dialog.py",
    "dialog/core.py",
]


def build(target: Path) -> list[Path]:
    """The compiled tree in ``target``; returns the extension modules made."""
    package = target / "uacsta"
    if package.exists():
        shutil.rmtree(package)
    shutil.copytree(ROOT / "src" / "uacsta", package, ignore=shutil.ignore_patterns("__pycache__"))
    sources = [str(Path("uacsta") / name) for name in COMPILED]
    subprocess.run(
        [sys.executable, "-m", "mypyc", *sources],
        cwd=target,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    shutil.rmtree(target / "build", ignore_errors=True)
    made = [p for name in COMPILED for p in (package / name).parent.glob(f"{Path(name).stem}.*.so")]
    if len(made) != len(COMPILED):
        raise SystemExit(f"mypyc made {len(made)} of {len(COMPILED)} extension modules")
    return made


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    for path in build(Path(sys.argv[1]).resolve()):
        print(path)
