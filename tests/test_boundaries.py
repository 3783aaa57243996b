"""The house's rules, read from the code: no import circles, a parent that imports no
framework, model packages that know nothing of the harness."""

import ast
import importlib
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGES = ("compare", "keras_models", "torch_models")
FRAMEWORK_MODULES = ("torch", "keras", "jax", "tensorflow")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports() -> dict[str, set[str]]:
    """Each project module → the project modules it imports (imports inside functions included)."""
    modules = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    found.add(target)
        graph[name] = found
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_project_has_no_import_circle():
    assert circles(project_imports()) == []


def test_the_circle_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_model_packages_never_import_the_harness():
    graph = project_imports()
    for name, imported in graph.items():
        if name.startswith(("keras_models", "torch_models")):
            assert not {m for m in imported if m.startswith("compare")}, name


LESSONS = (
    "compare.lessons.parity",
    "compare.lessons.differences",
    "compare.lessons.regularization",
    "compare.lessons.worker",
)
RUNNERS = ("compare.run.worker", "compare.run.keras_runner", "compare.run.torch_runner")


def test_the_lessons_never_import_the_training_runners():
    """The lessons share the runners' framework spellings through compare.run.keras_recipes and
    compare.run.torch_recipes, never by importing a runner (directly or through another module)."""
    graph = project_imports()

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for imported in graph.get(todo.pop(), ()):
                if imported not in seen:
                    seen.add(imported)
                    todo.append(imported)
        return seen

    for lesson in LESSONS:
        assert not reachable(lesson) & set(RUNNERS), lesson


def test_planning_a_comparison_imports_no_framework(tmp_path):
    """The parent plans, spawns and collects; only its children import a framework. Every
    package's public face (its __init__) imports none either."""
    script = (
        "import sys\n"
        "import compare.catalog, compare.contract, compare.data, compare.lessons, compare.porting, compare.run\n"
        "from compare import report\n"
        "from compare.harness import arguments, resolve\n"
        f"plan = resolve.make_plan(arguments.run_parser().parse_args(['--out', {str(tmp_path / 'out')!r}]))\n"
        "assert plan.models and plan.frameworks\n"
        f"loaded = sorted(m for m in {FRAMEWORK_MODULES!r} if m in sys.modules)\n"
        "print(loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_a_keras_run_off_tensorflow_seeds_without_importing_it(backend):
    """keras.utils.set_random_seed would import TensorFlow wherever it is installed; the
    engine adapters' Keras seeding seeds Python's random all the same."""
    script = (
        "import random, sys\n"
        "import compare.run.keras_runner\n"
        "from compare.run.engines import engine\n"
        f"engine({backend!r}).seed_keras(7)\n"
        "print(random.random(), 'tensorflow' in sys.modules)\n"
    )
    env = {**os.environ, "KERAS_BACKEND": backend}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    draw, tensorflow_loaded = result.stdout.split()
    assert tensorflow_loaded == "False"
    assert float(draw) == random.Random(7).random()


PUBLIC_PACKAGES = ("catalog", "contract", "data", "harness", "lessons", "porting", "report")


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_each_package_hands_on_its_public_names(package):
    module = importlib.import_module(f"compare.{package}")
    assert module.__all__, package
    for name in module.__all__:
        assert getattr(module, name) is not None, (package, name)


def test_notebooks_and_the_docs_import_only_public_names():
    """`from compare.<package> import name`, never a module path below a package: the
    packages' modules may move, their public names stay."""
    documents = [*(ROOT / "notebooks").glob("*.ipynb"), ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    texts = [path.read_text() for path in documents]
    deep = [m for text in texts for m in re.findall(r"from (compare\.\w+\.\w+) import", text)]
    assert deep == []


def test_framework_names_are_spelled_only_in_the_catalog_and_the_engine_adapters():
    """A framework is a catalog entry: the harness, lessons and report ask the catalog
    (FRAMEWORKS, keras_framework, REFERENCE) rather than spell "keras-torch" or f"keras-{backend}"."""
    from compare.catalog.frameworks import FRAMEWORKS, KERAS, TORCH

    names = set(FRAMEWORKS) - {KERAS.name, TORCH.name}  # "torch" also names the family: the lessons' label
    allowed = {*(ROOT / "compare" / "run" / "engines").glob("*.py"), *(ROOT / "compare" / "catalog").glob("*.py")}
    spelled = []
    for path in sorted((ROOT / "compare").rglob("*.py")):
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            literal = isinstance(node, ast.Constant) and node.value in names
            built = isinstance(node, ast.JoinedStr) and any(
                isinstance(part, ast.Constant) and str(part.value).endswith("keras-") for part in node.values[:1]
            )
            if literal or built:
                spelled.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert spelled == []


# A file past these many lines usually holds two concerns; a function past 40 does two things.
FILE_LINES, REPORT_MODULE_LINES, FUNCTION_LINES = 450, 250, 40


def test_files_and_functions_stay_small():
    """One concern per file, one thing per function: compare/ files within 450 lines, the
    report's modules within 250, every function within 40."""
    too_long = []
    for path in sorted((ROOT / "compare").rglob("*.py")):
        text = path.read_text()
        limit = REPORT_MODULE_LINES if "report" in path.relative_to(ROOT).parts else FILE_LINES
        if len(text.splitlines()) > limit:
            too_long.append(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines (at most {limit})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []
