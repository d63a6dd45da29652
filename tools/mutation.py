"""Mutation testing of the package: how many small, plausible bugs do the tests catch?

Each mutant is one change of the source, made on its syntax tree: a comparison's boundary or
sense (``<`` / ``<=``, ``==`` / ``!=``, ``in`` / ``not in``, ...), an integer constant +-1, a
float constant doubled or halved, ``True`` / ``False``, ``and`` / ``or``, a dropped ``not`` or
``~``, ``+`` / ``-``, ``*`` / ``/``, ``&`` / ``|``, ``min`` / ``max``, or a dropped statement
(a call, an assignment to an attribute or item, an augmented assignment, a ``raise``, a
``continue`` / ``break`` / ``del``). A mutant is *killed* when a test fails (or hangs) with it.
Lines marked ``# pragma: no mutate`` are left alone.

Run it (outside ``make test``; ``make mutation`` runs every area)::

    python tools/mutation.py                        # every area, results in output/mutation/
    python tools/mutation.py --area tracking data   # some areas
    python tools/mutation.py --list --area rle      # the mutants, without running them
    python tools/mutation.py --repo /tmp/base       # measure another checkout (e.g. a base commit)

Every area names its source files and the test paths that target them (:data:`AREAS`). One
pytest session per area collects those tests and runs them once under coverage.py, which gives
the tests that execute each line. Then each mutant runs in a fork of that session: the mutated
function's code object replaces the original's (``function.__code__``), and only the tests that
execute the mutated statement run, fastest first, until one fails. A mutant outside any
function (a module constant, a class attribute, a default argument) needs the module imported
afresh: it runs in a new process whose import hook serves the mutated source, with all of the
area's tests. Nothing is written to the checkout. Tests that run the package in a subprocess do
not see the mutant (they can only miss it).

Results go to ``<out>/<area>.jsonl`` (one line per mutant, kept across runs: an interrupted run
continues where it stopped unless ``--fresh``) and a summary per area is printed. A surviving
mutant either needs a test or is equivalent to the original: ``tools/mutation_equivalent.txt``
lists those, each with the argument why no test can tell it apart (``<key>  # <reason>``); the
score leaves them out, and the summary counts them apart.
"""
import argparse
import ast
import importlib
import importlib.abc
import importlib.util
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

# Area -> (source files or folders, test paths): the tests that exercise the area in-process,
# less the slowest end-to-end ones (models run on whole sequences: MOTSEvaluator, train_net,
# demo), which would make each surviving mutant cost minutes on two cores.
AREAS: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    "tracking": (
        ("trackrcnn_d2/tracking",),
        ("tests/tracking", "tests/test_tuning.py", "tests/test_tuning_disjoint.py",
         "tests/test_coco_configs.py", "tests/engine/test_predictor_speed_paths.py"),
    ),
    "data": (
        ("trackrcnn_d2/data/samplers.py", "trackrcnn_d2/data/mots_io.py"),
        ("tests/data", "tests/test_prepare_mots.py", "tests/evaluation/test_evaluation_files.py",
         "tests/evaluation/test_evaluation_bad_input.py"),
    ),
    "evaluation": (
        ("trackrcnn_d2/evaluation/metrics",),
        ("tests/evaluation/test_metrics_hand.py", "tests/evaluation/test_metrics_vs_trackeval.py",
         "tests/evaluation/test_metrics_scenes.py", "tests/evaluation/test_identity_assignment.py",
         "tests/evaluation/test_evaluation_bad_input.py",
         "tests/evaluation/test_evaluation_files.py", "tests/evaluation/test_evaluation_cli.py",
         "tests/evaluation/test_evaluation_matching.py", "tests/evaluation/test_lsap.py",
         "tests/evaluation/test_evaluation_workers.py"),
    ),
    "rle": (
        ("trackrcnn_d2/utils/rle.py",),
        ("tests/utils", "tests/structures", "tests/data/test_mots_io.py", "tests/tracking",
         "tests/evaluation/test_metrics_hand.py", "tests/evaluation/test_evaluation_bad_input.py",
         "tests/evaluation/test_evaluation_files.py"),
    ),
    "modeling": (
        ("trackrcnn_d2/modeling/roi_heads", "trackrcnn_d2/modeling/backbone"),
        ("tests/modeling", "tests/test_coco_configs.py"),
    ),
}  # fmt: skip

# Per-mutant limit: this many times the selected tests' baseline time, plus the start (a new
# process starts pytest and imports the package: longer on a busy machine). Generous, since a
# timeout counts as caught; a hang is a seeded bug's typical effect.
TIMEOUT_FACTOR = 10.0
TIMEOUT_BASE = {"code": 60.0, "import": 240.0}
PYTEST_ARGS = ["-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-W", "ignore"]


@dataclass(frozen=True)
class Mutant:
    """One change of one file: ``path`` (relative to the repository), where, what."""

    path: str
    line: int
    end_line: int
    scope: str  # the enclosing function or class, e.g. "SequenceTracker.step"
    function: Optional[str]  # qualname of the outermost enclosing function, if any
    operator: str  # e.g. "Lt->LtE", "drop Expr", "2->3"
    occurrence: int  # the how-manieth mutant of this operator in the scope
    index: int  # which of the file's nodes (in walk order) it changes

    @property
    def key(self) -> str:
        """Stable across edits elsewhere in the file (the line is only for reading)."""
        return f"{self.path}:{self.scope}:{self.operator}#{self.occurrence}"

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.scope} {self.operator}#{self.occurrence}"


# --- Enumerating and applying mutations --------------------------------------------------------

_COMPARE_SWAPS = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip
_BINOP_SWAPS = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd,
}  # fmt: skip
_NAME_SWAPS = {"min": "max", "max": "min", "minimum": "maximum", "maximum": "minimum"}
_DROPPABLE = (ast.Expr, ast.AugAssign, ast.Raise, ast.Continue, ast.Break, ast.Delete)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _docstring_nodes(tree: ast.AST) -> set:
    nodes = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, *_FUNCTIONS)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    nodes.add(id(body[0]))
    return nodes


def _context(tree: ast.AST):
    """id(node) -> (innermost statement, scope name, qualname of the outermost enclosing
    function or None). A def's decorators, defaults and annotations belong to the scope around
    it (they run there), its body to the function."""
    context = {}

    def visit(node, statement, scope, function):
        if isinstance(node, ast.stmt):
            statement = node
        context[id(node)] = (statement, scope or "<module>", function)
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            inner = f"{scope}.{node.name}" if scope else node.name
            inner_function = function or (inner if isinstance(node, _FUNCTIONS) else None)
            for field, value in ast.iter_fields(node):
                children = value if isinstance(value, list) else [value]
                in_body = field == "body"
                for child in children:
                    if isinstance(child, ast.AST):
                        visit(child, statement, inner if in_body else scope,
                              inner_function if in_body else function)  # fmt: skip
            return
        for child in ast.iter_child_nodes(node):
            visit(child, statement, scope, function)

    visit(tree, None, "", None)
    return context


def _skipped_lines(source: str) -> set:
    return {n for n, line in enumerate(source.splitlines(), start=1) if "pragma: no mutate" in line}


def _excluded(statement) -> bool:
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return True
    return isinstance(statement, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "__all__" for t in statement.targets
    )


def _mutations_of(node, docstrings) -> List[Tuple[str, tuple]]:
    """(operator name, replacement spec) for one node."""
    found = []
    if isinstance(node, ast.Compare):
        for position, op in enumerate(node.ops):
            if type(op) in _COMPARE_SWAPS:
                new = _COMPARE_SWAPS[type(op)]
                found.append((f"{type(op).__name__}->{new.__name__}", ("cmp", position, new)))
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAPS:
        new = _BINOP_SWAPS[type(node.op)]
        found.append((f"{type(node.op).__name__}->{new.__name__}", ("binop", new)))
    elif isinstance(node, ast.BoolOp):
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        found.append((f"{type(node.op).__name__}->{new.__name__}", ("boolop", new)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
        found.append((f"drop {type(node.op).__name__}", ("unwrap",)))
    elif isinstance(node, ast.Constant) and type(node.value) is bool:
        found.append((f"{node.value}->{not node.value}", ("const", not node.value)))
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        found.append((f"{node.value}->{node.value + 1}", ("const", node.value + 1)))
        found.append((f"{node.value}->{node.value - 1}", ("const", node.value - 1)))
    elif isinstance(node, ast.Constant) and type(node.value) is float:
        values = (node.value * 2, node.value / 2) if node.value else (1.0, -1.0)
        for value in values:
            found.append((f"{node.value!r}->{value!r}", ("const", value)))
    elif isinstance(node, ast.Name) and node.id in _NAME_SWAPS:
        found.append((f"{node.id}->{_NAME_SWAPS[node.id]}", ("name", _NAME_SWAPS[node.id])))
    elif isinstance(node, ast.Attribute) and node.attr in _NAME_SWAPS:
        found.append((f".{node.attr}->.{_NAME_SWAPS[node.attr]}", ("attr", _NAME_SWAPS[node.attr])))
    placeholder = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and (
        node.value.value is Ellipsis
    )  # the body of a Protocol's method: never run
    if isinstance(node, _DROPPABLE) and id(node) not in docstrings and not placeholder:
        found.append((f"drop {type(node).__name__}", ("drop",)))
    elif isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if all(isinstance(t, (ast.Attribute, ast.Subscript)) for t in targets):
            found.append(("drop Assign", ("drop",)))
    return found


def enumerate_mutants(repo: str, path: str) -> List[Mutant]:
    """Every mutant of one file, in a stable order."""
    source = open(os.path.join(repo, path), encoding="utf-8").read()
    tree = ast.parse(source)
    docstrings = _docstring_nodes(tree)
    context = _context(tree)
    skipped = _skipped_lines(source)
    mutants = []
    occurrences: Dict[Tuple[str, str], int] = {}
    for index, node in enumerate(ast.walk(tree)):
        if not hasattr(node, "lineno") or node.lineno in skipped:
            continue
        statement, scope, function = context[id(node)]
        if _excluded(statement):
            continue
        statement = statement or node
        for operator, _ in _mutations_of(node, docstrings):
            occurrence = occurrences.get((scope, operator), 0)
            occurrences[(scope, operator)] = occurrence + 1
            mutants.append(Mutant(path, node.lineno, statement.end_lineno, scope, function,
                                  operator, occurrence, index))  # fmt: skip
    return mutants


def mutated_source(repo: str, mutant: Mutant) -> str:
    """The source of ``mutant.path`` with the mutant applied (formatting normalised by
    ``ast.unparse``)."""
    source = open(os.path.join(repo, mutant.path), encoding="utf-8").read()
    tree = ast.parse(source)
    docstrings = _docstring_nodes(tree)
    node = list(ast.walk(tree))[mutant.index]
    spec = dict(_mutations_of(node, docstrings))[mutant.operator]
    kind = spec[0]
    if kind == "cmp":
        node.ops[spec[1]] = spec[2]()
    elif kind in ("binop", "boolop"):
        node.op = spec[1]()
    elif kind == "const":
        node.value = spec[1]
    elif kind == "name":
        node.id = spec[1]
    elif kind == "attr":
        node.attr = spec[1]
    elif kind == "unwrap":
        _replace_node(tree, node, node.operand)
    elif kind == "drop":
        _replace_node(tree, node, ast.Pass())
    return ast.unparse(ast.fix_missing_locations(tree))


def _replace_node(tree, old, new):
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list) and any(v is old for v in value):
                setattr(parent, field, [new if v is old else v for v in value])
                return
    raise ValueError("node not found")


def area_files(repo: str, area: str) -> List[str]:
    files = []
    for entry in AREAS[area][0]:
        full = os.path.join(repo, entry)
        if os.path.isdir(full):
            files += sorted(
                os.path.join(entry, name) for name in os.listdir(full) if name.endswith(".py")
            )
        else:
            files.append(entry)
    return files


def module_name(path: str) -> str:
    name = path[: -len(".py")].replace("/", ".")
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def _code_objects(code):
    yield code
    for constant in code.co_consts:
        if inspect.iscode(constant):
            yield from _code_objects(constant)


def _live_function(mutant: Mutant):
    """The function object the interpreter runs for ``mutant.function`` (decorators
    unwrapped), or None."""
    target = sys.modules.get(module_name(mutant.path))
    for part in mutant.function.split("."):
        if target is None:
            return None
        namespace = getattr(target, "__dict__", {})
        target = namespace.get(part, getattr(target, part, None))
        if isinstance(target, (staticmethod, classmethod)):
            target = target.__func__
        elif isinstance(target, property):
            target = target.fget
    if target is None:
        return None
    target = inspect.unwrap(target)
    return target if inspect.isfunction(target) else None


# --- Running tests --------------------------------------------------------------------------


class _MutantFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the mutated source for one module; everything else imports normally."""

    def __init__(self, name: str, path: str, source: str):
        self.name, self.path, self.source = name, path, source

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        is_package = self.path.endswith("__init__.py")
        return importlib.util.spec_from_file_location(
            fullname,
            self.path,
            loader=self,
            submodule_search_locations=[os.path.dirname(self.path)] if is_package else None,
        )

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        exec(compile(self.source, self.path, "exec"), module.__dict__)


def _wait(pid: int, timeout: float) -> Optional[int]:
    """Exit code of the child, or None after killing it at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.02)


def _silence():
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


class MutationSession:
    """pytest plugin that replaces the test loop of one area's session: the baseline run under
    coverage, then one fork per mutant."""

    def __init__(self, repo, area, files, mutants, results_path, fresh_command):
        self.repo, self.area, self.files, self.mutants = repo, area, files, mutants
        self.results_path, self.fresh_command = results_path, fresh_command
        self.summary = None

    def pytest_runtestloop(self, session):
        from _pytest.runner import runtestprotocol

        items = session.items
        if not items:
            raise SystemExit(f"{self.area}: no tests collected")
        lines, durations, seconds = self._baseline(session, items, runtestprotocol)
        print(f"{self.area}: baseline of {len(items)} tests, {seconds:.0f} s; "
              f"{len(self.mutants)} mutants to run", file=sys.__stdout__, flush=True)  # fmt: skip
        by_id = {item.nodeid: item for item in items}
        all_ids = [item.nodeid for item in items]
        # Mutants in functions first (a fork each), those that need a new process last.
        mutants = sorted(self.mutants, key=lambda m: m.function is None)
        with open(self.results_path, "a") as handle:
            for number, mutant in enumerate(mutants, start=1):
                record = self._run(mutant, session, by_id, all_ids, lines, durations,
                                   runtestprotocol)  # fmt: skip
                handle.write(json.dumps(record) + "\n")
                handle.flush()
                if record["status"] in ("survived", "uncovered"):
                    print(f"  [{number}/{len(self.mutants)}] {record['status']}: {mutant}",
                          file=sys.__stdout__, flush=True)  # fmt: skip
        return True

    def _baseline(self, session, items, runtestprotocol):
        import coverage

        start = time.monotonic()
        cov = coverage.Coverage(data_file=None, include=[os.path.join(self.repo, f)
                                                         for f in self.files])  # fmt: skip
        durations, failed = {}, []
        cov.start()
        for i, item in enumerate(items):
            cov.switch_context(item.nodeid)
            nextitem = items[i + 1] if i + 1 < len(items) else item
            reports = runtestprotocol(item, nextitem=nextitem, log=False)
            durations[item.nodeid] = sum(r.duration for r in reports)
            if any(r.failed for r in reports):
                failed.append(item.nodeid)
        cov.stop()
        if failed:
            raise SystemExit(f"{self.area}: the unmutated tests fail: {failed[:5]}")
        data = cov.get_data()
        lines = {}
        for f in self.files:
            by_line = data.contexts_by_lineno(os.path.join(self.repo, f)) or {}
            lines[f] = {n: set(c) - {""} for n, c in by_line.items()}
        return lines, durations, time.monotonic() - start

    def _run(self, mutant, session, by_id, all_ids, lines, durations, runtestprotocol):
        started = time.monotonic()
        function = _live_function(mutant) if mutant.function else None
        code = None
        if function is not None:
            compiled = compile(mutated_source(self.repo, mutant), function.__code__.co_filename,
                               "exec")  # fmt: skip
            code = next((c for c in _code_objects(compiled)
                         if c.co_qualname == function.__code__.co_qualname), None)  # fmt: skip
            if code is not None and len(code.co_freevars) != len(function.__code__.co_freevars):
                code = None
        if code is None:
            # Outside any function, or not swappable: a new process imports the mutated module,
            # and runs the tests that execute any of it.
            covering = set().union(*lines.get(mutant.path, {}).values())
            selected = sorted(covering, key=lambda nodeid: durations.get(nodeid, 0.0)) or all_ids
            expected = sum(durations.get(t, 0.0) for t in selected)
            status = self._run_fresh(
                mutant, selected, TIMEOUT_BASE["import"] + TIMEOUT_FACTOR * expected
            )
            mode = "import"
        else:
            covering = set()
            for number in range(mutant.line, mutant.end_line + 1):
                covering |= lines.get(mutant.path, {}).get(number, set())
            selected = sorted(covering, key=lambda nodeid: durations.get(nodeid, 0.0))
            mode = "code"
            if not selected:
                status = "uncovered"
            else:
                timeout = TIMEOUT_BASE["code"] + TIMEOUT_FACTOR * sum(
                    durations.get(t, 0.0) for t in selected
                )
                tests = [by_id[t] for t in selected]
                status = self._run_forked(function, code, tests, runtestprotocol, timeout)
        seconds = round(time.monotonic() - started, 2)
        return {"key": mutant.key, "where": str(mutant), "status": status, "mode": mode,
                "tests": len(selected), "seconds": seconds}  # fmt: skip

    @staticmethod
    def _run_forked(function, code, items, runtestprotocol, timeout) -> str:
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                _silence()
                function.__code__ = code
                items[0].session._setupstate.teardown_exact(items[0])
                status = 0
                for i, item in enumerate(items):
                    nextitem = items[i + 1] if i + 1 < len(items) else item
                    if any(r.failed for r in runtestprotocol(item, nextitem=nextitem, log=False)):
                        status = 1
                        break
            finally:
                os._exit(status)
        code = _wait(pid, timeout)
        return "timeout" if code is None else ("survived" if code == 0 else "killed")

    def _run_fresh(self, mutant, nodeids, timeout) -> str:
        process = subprocess.Popen(
            [*self.fresh_command, "--run-import-mutant", mutant.key, *nodeids],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return "timeout"
        return "survived" if code == 0 else "killed"


def _run_import_mutant(repo: str, key: str, nodeids: Sequence[str]) -> int:
    """In a new process: the tests ``nodeids`` with the module of mutant ``key`` mutated."""
    import pytest

    path = key.split(":", 1)[0]
    mutant = next(m for m in enumerate_mutants(repo, path) if m.key == key)
    finder = _MutantFinder(module_name(path), os.path.join(repo, path),
                           mutated_source(repo, mutant))  # fmt: skip
    sys.meta_path.insert(0, finder)
    return int(pytest.main([*PYTEST_ARGS, "-x", *nodeids]))


def _run_area(repo, area, mutants, results_path, fresh_command) -> None:
    """One pytest session (in this process) that runs the area's mutants."""
    import pytest

    files = area_files(repo, area)
    tests = [t for t in AREAS[area][1] if os.path.exists(os.path.join(repo, t))]
    plugin = MutationSession(repo, area, files, mutants, results_path, fresh_command)
    basetemp = os.path.join(os.path.dirname(results_path), f".tmp-{area}")
    code = pytest.main([*PYTEST_ARGS, f"--basetemp={basetemp}", *tests], plugins=[plugin])
    if code not in (0, pytest.ExitCode.OK):
        raise SystemExit(f"{area}: the pytest session ended with {code!r}")


# --- Command line ------------------------------------------------------------------------------


def _load_results(path: str) -> Dict[str, dict]:
    if not os.path.isfile(path):
        return {}
    with open(path) as handle:
        return {r["key"]: r for r in map(json.loads, handle) if r.get("key")}


EQUIVALENT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "mutation_equivalent.txt")  # fmt: skip


def load_equivalent(path: str = EQUIVALENT_FILE) -> Dict[str, str]:
    """``{mutant key: reason}`` of the mutants argued equivalent (``<key>  # <reason>`` lines;
    blank lines and lines starting with ``#`` are comments)."""
    equivalent = {}
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip() and not line.startswith("#"):
                    key, _, reason = line.rstrip("\n").partition("  # ")
                    equivalent[key.strip()] = reason.strip()
    return equivalent


def summarise(area: str, results: Dict[str, dict], mutants: List[Mutant],
              equivalent: Dict[str, str]) -> dict:  # fmt: skip
    keys = {m.key for m in mutants}
    rows = [r for k, r in results.items() if k in keys]
    counts = {s: 0 for s in ("killed", "timeout", "survived", "uncovered", "equivalent")}
    for r in rows:
        alive = r["status"] in ("survived", "uncovered")
        counts["equivalent" if alive and r["key"] in equivalent else r["status"]] += 1
    caught = counts["killed"] + counts["timeout"]
    judged = len(rows) - counts["equivalent"]
    return {"area": area, "mutants": len(rows), **counts,
            "score": round(100.0 * caught / judged, 1) if judged else None}  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--area", nargs="+", choices=sorted(AREAS), default=list(AREAS))
    parser.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.abspath(
        __file__))), help="checkout to measure (default: this one)")  # fmt: skip
    parser.add_argument("--out", default=None, help="results folder (default <repo>/output/"
                        "mutation)")  # fmt: skip
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    parser.add_argument("--only", default=None, help="only mutants whose key contains this")
    parser.add_argument("--sample", type=int, default=1, metavar="N",
                        help="every N-th mutant of each area only (a systematic sample)")
    parser.add_argument("--show-survivors", action="store_true",
                        help="list the survivors not argued equivalent")  # fmt: skip
    parser.add_argument("--rerun-survivors", action="store_true",
                        help="run the survivors of earlier runs again (after new tests)")
    parser.add_argument("--run-import-mutant", default=None, help=argparse.SUPPRESS)
    parser.add_argument("nodeids", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    repo = os.path.abspath(args.repo)
    os.chdir(repo)
    sys.path[:0] = [repo, os.path.join(repo, "tests")]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    sys.dont_write_bytecode = True
    if args.run_import_mutant:
        sys.exit(_run_import_mutant(repo, args.run_import_mutant, args.nodeids))

    out = os.path.abspath(args.out or os.path.join(repo, "output", "mutation"))
    os.makedirs(out, exist_ok=True)
    fresh_command = [sys.executable, os.path.abspath(__file__), "--repo", repo]
    summaries = []
    equivalent = load_equivalent()
    for area in args.area:
        mutants = [m for f in area_files(repo, area) for m in enumerate_mutants(repo, f)]
        mutants = mutants[:: args.sample]
        if args.only:
            mutants = [m for m in mutants if args.only in m.key]
        if args.list:
            for m in mutants:
                print(m, "(import)" if m.function is None else "")
            print(f"{area}: {len(mutants)} mutants, "
                  f"{sum(m.function is None for m in mutants)} outside functions")  # fmt: skip
            continue
        results_path = os.path.join(out, f"{area}.jsonl")
        if args.fresh and os.path.exists(results_path):
            os.remove(results_path)
        results = _load_results(results_path)
        if args.rerun_survivors:
            results = {k: r for k, r in results.items()
                       if r["status"] not in ("survived", "uncovered")}  # fmt: skip
        todo = [m for m in mutants if m.key not in results]
        if todo:
            # A child per area: a pytest session of its own, without the other areas' state.
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    _run_area(repo, area, todo, results_path, fresh_command)
                    code = 0
                finally:
                    sys.stdout.flush()
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit(f"{area}: the mutation run failed")
            results = _load_results(results_path)
        summaries.append(summarise(area, results, mutants, equivalent))
        print(json.dumps(summaries[-1]), flush=True)
    if summaries:
        print("\narea        mutants  killed  timeout  survived  uncovered  equivalent  score")
        for s in summaries:
            print(f"{s['area']:<11} {s['mutants']:>7} {s['killed']:>7} {s['timeout']:>8} "
                  f"{s['survived']:>9} {s['uncovered']:>10} {s['equivalent']:>11}  "
                  f"{s['score']}%")  # fmt: skip
        print("score: (killed + timeout) / (mutants - equivalent); survivors: --show-survivors")
    if args.show_survivors:
        for area in args.area:
            for record in _load_results(os.path.join(out, f"{area}.jsonl")).values():
                if record["status"] in ("survived", "uncovered") and (
                    record["key"] not in equivalent
                ):
                    print(f"{record['status']:<10} {record['where']}  [{record['key']}]")


if __name__ == "__main__":
    main()
