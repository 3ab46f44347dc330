"""Template of the first cell of every reader notebook (see ``reader_notebooks.py``).

Not imported by the build: ``reader_notebooks.py`` copies the code below the marker line into
each reader notebook, with ``REPOSITORY_URL`` and ``REPOSITORY_BRANCH`` set from
``repository.url`` and ``repository.branch`` in ``_config.yml``. With the URL empty (as long
as the book has no public repository) the cell installs nothing and says what to run. It never
installs a CUDA build of PyTorch: where torch is missing it takes the CPU build. Where every
package is importable (a clone with ``pip install -r requirements.txt``, the book's build, the
tests) it does nothing, so builds and tests stay offline.
"""

# --- cell ---
# Setup. This chapter runs on the `reparam` package, SciPy and scikit-learn.
# Where they are installed this cell does nothing; otherwise it installs them
# (PyTorch as its CPU build) or, while the book's repository is not
# published, says what to run.
import importlib
import importlib.util
import subprocess
import sys

REPOSITORY_URL = ""
REPOSITORY_BRANCH = "main"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
NEEDED = ("reparam", "scipy", "sklearn")


def glue(name: str, variable: object, display: bool = True) -> None:
    """Stand-in for myst_nb.glue: the text of this notebook already quotes the
    values that the book's build stores with glue(name, value)."""
    if display:
        from IPython.display import display as show

        show(variable)


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", *args]
    subprocess.check_call(command)


_missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
_need_torch = importlib.util.find_spec("torch") is None
if _missing and REPOSITORY_URL:
    if _need_torch:  # the CPU build: the default Linux wheel pulls in CUDA
        _pip("torch", "--index-url", TORCH_CPU_INDEX)
    _pip(f"reparam[book] @ git+{REPOSITORY_URL}@{REPOSITORY_BRANCH}")
    importlib.invalidate_caches()
elif _missing:
    _python = f'"{sys.executable}" -m pip install'
    _steps = [f'    {_python} ".[book]"']
    if _need_torch:
        _steps.insert(0, f"    {_python} torch --index-url {TORCH_CPU_INDEX}")
    print(
        f"Missing here: {', '.join(_missing)}. The book's repository is not "
        "published yet,\nso this cell cannot install them. In a terminal, in "
        "the top folder of a copy\nof the book's repository, run\n"
        + "\n".join(_steps)
        + "\nthen restart the kernel and run this notebook again."
    )
    raise ModuleNotFoundError(f"not installed: {', '.join(_missing)}")
