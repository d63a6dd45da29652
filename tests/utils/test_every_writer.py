"""Every place that writes to the file system goes through the output policy (utils/file_io.py,
its operations in utils/file_ops.py).

The package, the scripts, tools/, datasets/ and examples/ are parsed, and each call
that creates, writes, moves or removes a file or folder is listed. Outside file_io.py, each must
be one of the reviewed sites below, each with the reason why it is safe; a new writer fails
this test until it calls the policy (``OutputFile``/``atomic_open``/``atomic_write_text``,
``OutputFolder``, ``run_folder``) or is reviewed and added here. A reviewed site that is gone
fails too, so that the list stays true.
"""
import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# benchmarks/ are left out: they write scratch data into temporary folders only.
SOURCES = ("trackrcnn_d2", "tools", "datasets", "examples", "demo.py", "train_net.py")
POLICY = {os.path.join("trackrcnn_d2", "utils", name) for name in ("file_io.py", "file_ops.py")}

# Calls that write: functions of these modules (also under their usual short names) ...
WRITING_FUNCTIONS = {
    "os": {"makedirs", "mkdir", "symlink", "link", "rename", "replace", "remove", "unlink",
           "rmdir", "removedirs", "truncate", "mkfifo", "open"},
    "shutil": {"copy", "copy2", "copyfile", "copytree", "move", "rmtree"},
    "np": {"save", "savez", "savez_compressed", "savetxt"},
    "torch": {"save"},
    "cv2": {"imwrite", "VideoWriter"},
    "tempfile": {"mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryDirectory"},
    "PathManager": {"open", "mkdirs", "rm", "copy", "symlink"},
}  # fmt: skip
MODULE_NAMES = {"numpy": "np", "np": "np"}
# ... methods of any object (pathlib, PIL, pandas, matplotlib) ...
WRITING_METHODS = {
    "write_text", "write_bytes", "mkdir", "touch", "symlink_to", "save", "savefig", "to_csv",
    "tofile",
}  # fmt: skip
# ... and open() with a mode that writes, appends or creates. A file object of the policy (``with
# atomic_open(...) as f``, ``with output.open() as f``) given to them is no writer of its own.

# (file, function, call) -> why it may write without the policy.
REVIEWED = {
    ("datasets/prepare_mots.py", "link_motschallenge", "makedirs"):
        "inside the OutputFolder of write_folder (the links' sequence folders)",
    ("datasets/prepare_mots.py", "link_motschallenge", "symlink"):
        "inside the OutputFolder of write_folder (links to the release, copying nothing)",
    ("trackrcnn_d2/utils/video.py", "FrameWriter.write", "VideoWriter"):
        "OpenCV needs a path: inside demo.py's OutputFolder",
    ("trackrcnn_d2/utils/cli.py", "_close_log_files", "open"):
        "os.devnull, where a log handler writes after its file's disk filled up",
    ("trackrcnn_d2/evaluation/reference.py", "run_trackeval", "TemporaryDirectory"):
        "TrackEval's input folders, removed when it has run (the test oracle)",
    ("trackrcnn_d2/engine/trainer.py", "drop_events_from", "truncate"):
        "detectron2's metrics.json in OUTPUT_DIR, in place: its JSONWriter holds it open",
    # demo.py's per-video output folder (engine/video_outputs.py: resumable, one run at a time
    # under a lock): each video written in the output's hidden .demo-work/<name>/, moved into
    # place by rename when complete, its record written by atomic_write_text.
    ("trackrcnn_d2/engine/video_outputs.py", "ResultsFolder.begin", "makedirs"):
        "the video's work folder inside the output's .demo-work",
    ("trackrcnn_d2/engine/video_outputs.py", "ResultsFolder.begin", "rmtree"):
        "an unfinished work folder of this video (its record says unfinished)",
    ("trackrcnn_d2/engine/video_outputs.py", "ResultsFolder.commit", "makedirs"):
        "the output's frames/ folder, before a rendering is renamed into it",
    ("trackrcnn_d2/engine/video_outputs.py", "ResultsFolder.commit", "replace"):
        "a finished video's files renamed from .demo-work into place (same folder)",
    ("trackrcnn_d2/engine/video_outputs.py", "ResultsFolder.commit", "rmtree"):
        "the committed video's emptied work folder",
    ("trackrcnn_d2/engine/video_outputs.py", "ResultsFolder.abandon", "rmtree"):
        "a failed video's work folder",
    ("trackrcnn_d2/engine/video_outputs.py", "OutputPlan.__enter__", "makedirs"):
        "the output's hidden .demo-records folder",
    ("trackrcnn_d2/engine/video_outputs.py", "OutputPlan.finish", "rmtree"):
        "the finished run's .demo-work",
    ("trackrcnn_d2/engine/video_outputs.py", "OutputPlan._remove_if_nothing_complete", "rmtree"):
        "a failed run's own .demo-work and .demo-records, when no video is complete",
    ("trackrcnn_d2/engine/video_outputs.py", "OutputPlan._remove_if_nothing_complete", "rmdir"):
        "the folders a failed run made, only when empty",
    ("trackrcnn_d2/engine/video_outputs.py", "_overwrite_plan", "rmtree"):
        "the hidden .NAME.overwrite folder of an earlier --overwrite run for another request",
    ("trackrcnn_d2/engine/video_outputs.py", "_lock", "open"):
        "the lock file in .demo-records (appended to, never written)",
    # The mutation-testing tool (make mutation), for developers.
    ("tools/mutation.py", "MutationSession.pytest_runtestloop", "open"):
        "its append-only journal of mutant results (resumed after a kill)",
    ("tools/mutation.py", "_silence", "open"):
        "os.devnull",
    ("tools/mutation.py", "main", "makedirs"):
        "its results folder, output/mutation",
    ("tools/mutation.py", "main", "remove"):
        "its own results journal, with --fresh",
}  # fmt: skip


def _call_name(call: ast.Call) -> str:
    """"os.makedirs", "np.save", ".save" (a method), "open", ..."""
    function = call.func
    if isinstance(function, ast.Name):
        return function.id
    if not isinstance(function, ast.Attribute):
        return ""
    if isinstance(function.value, ast.Name):
        module = MODULE_NAMES.get(function.value.id, function.value.id)
        if function.attr in WRITING_FUNCTIONS.get(module, ()):
            return f"{module}.{function.attr}"
    return f".{function.attr}"


def _opens_for_writing(call: ast.Call) -> bool:
    mode = call.args[1] if len(call.args) > 1 else None
    for keyword in call.keywords:
        if keyword.arg == "mode":
            mode = keyword.value
    if mode is None:
        return False
    if not (isinstance(mode, ast.Constant) and isinstance(mode.value, str)):
        return True  # a mode that is not written out: review it
    return any(c in mode.value for c in "wax+")


def _is_writer(call: ast.Call, policy_files) -> bool:
    name = _call_name(call)
    arguments = [*call.args, *(k.value for k in call.keywords)]
    if any(isinstance(a, ast.Name) and a.id in policy_files for a in arguments):
        return False  # writes into a file object of the policy (np.savez(f), torch.save(x, f))
    if name == "open":
        return _opens_for_writing(call)
    if name == "os.open":
        return True
    return "." in name and (name.startswith(".") and name[1:] in WRITING_METHODS or
                            not name.startswith("."))  # fmt: skip


def _policy_files(node: ast.With):
    """Names bound to file objects of the policy by a ``with`` statement."""
    names = set()
    for item in node.items:
        call = item.context_expr
        is_policy = isinstance(call, ast.Call) and (
            _call_name(call) == "atomic_open"
            or (isinstance(call.func, ast.Attribute) and call.func.attr == "open"
                and not _opens_for_writing(call) and not call.args)
        )  # fmt: skip
        if is_policy and isinstance(item.optional_vars, ast.Name):
            names.add(item.optional_vars.id)
    return names


def _writers(path: str):
    """(function, call) of each writing call in a source file."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = []

    def visit(node, scope, policy_files):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            scope = scope + [node.name]
        if isinstance(node, ast.With):
            policy_files = policy_files | _policy_files(node)
        if isinstance(node, ast.Call) and _is_writer(node, policy_files):
            found.append((".".join(scope) or "<module>", _call_name(node).split(".")[-1]))
        for child in ast.iter_child_nodes(node):
            visit(child, scope, policy_files)

    visit(tree, [], frozenset())
    return found


def _source_files():
    for source in SOURCES:
        if source.endswith(".py"):
            yield source
            continue
        for folder, _, names in os.walk(os.path.join(REPO, source)):
            for name in sorted(names):
                if name.endswith(".py"):
                    yield os.path.relpath(os.path.join(folder, name), REPO)


def _all_writers():
    return {
        (path, function, call)
        for path in _source_files()
        if path not in POLICY
        for function, call in _writers(os.path.join(REPO, path))
    }


def test_every_writer_goes_through_the_output_policy():
    unreviewed = sorted(_all_writers() - set(REVIEWED))
    assert not unreviewed, (
        "These write outside the output policy (trackrcnn_d2/utils/file_io.py): call "
        "OutputFile/atomic_open/atomic_write_text, OutputFolder or run_folder instead, or add "
        f"them to REVIEWED with the reason they are safe: {unreviewed}"
    )


def test_every_reviewed_writer_still_exists():
    assert not sorted(set(REVIEWED) - _all_writers())


def test_the_scan_finds_writers():
    """The scan itself: it finds the kinds of writes it must find."""
    source = (
        "import os, shutil, numpy as np\n"
        "def f(p, m):\n"
        "    open(p, 'w'); open(p, mode='ab'); open(p); open(p, 'rb'); open(p, m)\n"
        "    os.makedirs(p); shutil.rmtree(p); np.save(p, 1); p.replace('a', 'b'); np.copy(p)\n"
        "    with atomic_open(p, 'wb') as f:\n"
        "        np.savez(f, x=1)\n"
        "class C:\n"
        "    def g(self, image, p):\n"
        "        image.save(p)\n"
    )
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"writers_{os.getpid()}.py")
    with open(path, "w") as f:  # the test's own input
        f.write(source)
    try:
        found = _writers(path)
    finally:
        os.remove(path)
    assert found == [
        ("f", "open"), ("f", "open"), ("f", "open"), ("f", "makedirs"), ("f", "rmtree"),
        ("f", "save"), ("C.g", "save"),
    ]  # fmt: skip
