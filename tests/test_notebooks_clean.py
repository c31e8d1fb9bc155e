"""Committed notebooks stay clean.

What git's index holds for notebooks/*.ipynb (what the next commit stores, read with
`git cat-file blob :path`, not the working tree a researcher has just run) has no outputs and no
execution counts; and the git filter `make install` sets up (nbstripout) turns a notebook as
JupyterLab saves it after Run All back into the committed bytes, so `git status` stays clean."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from cxlab.stages import STAGES

ROOT = Path(__file__).resolve().parents[1]
# the language details JupyterLab writes on every save; the filter strips them (Makefile NB_EXTRA_KEYS)
KERNEL_DETAILS = ["codemirror_mode", "file_extension", "mimetype", "nbconvert_exporter", "pygments_lexer", "version"]


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def committed_notebooks(repo: Path = ROOT) -> dict[str, dict]:
    """notebooks/*.ipynb as git's index holds them, parsed: path -> notebook."""
    names = git("ls-files", "--", "notebooks/*.ipynb", cwd=repo).split()
    return {name: json.loads(git("cat-file", "blob", f":{name}", cwd=repo)) for name in names}


def not_clean(notebook: dict) -> list[str]:
    """What should not be committed in a notebook, in words (empty: clean)."""
    code = [(i, c) for i, c in enumerate(notebook["cells"]) if c["cell_type"] == "code"]
    problems = []
    outputs = [i for i, c in code if c.get("outputs")]
    if outputs:
        problems.append(f"{len(outputs)} code cell(s) hold outputs (cells {', '.join(map(str, outputs))})")
    counts = [i for i, c in code if c.get("execution_count") is not None]
    if counts:
        problems.append(f"{len(counts)} code cell(s) hold an execution count (cells {', '.join(map(str, counts))})")
    details = sorted(set(notebook["metadata"].get("language_info", {})) & set(KERNEL_DETAILS))
    if details:
        problems.append(f"the kernel's language details are kept ({', '.join(details)})")
    return problems


def as_jupyterlab_saves_it_after_run_all(notebook: dict) -> str:
    """The notebook with what Run All and a save in JupyterLab add: outputs (a plot, text, an
    error), execution counts, timing metadata, the kernel's language details."""
    notebook = json.loads(json.dumps(notebook))
    n = 0
    for cell in [c for c in notebook["cells"] if c["cell_type"] == "code"]:
        n += 1
        cell["execution_count"] = n
        cell["metadata"]["execution"] = {"iopub.execute_input": "2026-01-01T10:00:00.000Z"}
        cell["outputs"] = [
            {"output_type": "stream", "name": "stdout", "text": [f"cell {n}\n"]},
            {"output_type": "display_data", "metadata": {},
             "data": {"image/png": "iVBORw0KGgo" * 5000, "text/plain": ["<Figure size 640x480 with 1 Axes>"]}},
        ]
    cell["outputs"].append({"output_type": "error", "ename": "ValueError", "evalue": "x",  # the last code cell failed
                            "traceback": ["ValueError: x"]})
    notebook["metadata"]["language_info"] = {
        "codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py", "mimetype": "text/x-python",
        "name": "python", "nbconvert_exporter": "python", "pygments_lexer": "ipython3", "version": "3.11.7"}
    notebook["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def makefile_filter_setup() -> str:
    """The shell lines of `make install` that set up the notebook filter, as make runs them."""
    dry = subprocess.run(["make", "-s", "-n", "-B", "install"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    match = re.search(r"^if ! git rev-parse.*?^fi$", dry, re.S | re.M)
    assert match, f"make install sets up no notebook filter:\n{dry}"
    return match.group(0)


def test_every_committed_stage_notebook_holds_no_outputs_and_no_execution_counts():
    notebooks = committed_notebooks()
    assert sorted(notebooks) == sorted(f"notebooks/{spec.notebook}" for spec in STAGES.values())
    problems = {name: p for name, nb in notebooks.items() if (p := not_clean(nb))}
    assert not problems, (
        f"Committed notebooks must be clean: {problems}. Run `make install` (it sets up the nbstripout "
        "filter), then `git add` the notebooks again."
    )


def test_the_check_reads_the_index_not_the_working_tree(tmp_path):
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    git("init", "-q", cwd=repo)
    path = repo / "notebooks" / "00_intake.ipynb"
    clean = (ROOT / "notebooks" / "00_intake.ipynb").read_text()
    code_cells = sum(c["cell_type"] == "code" for c in json.loads(clean)["cells"])
    path.write_text(as_jupyterlab_saves_it_after_run_all(json.loads(clean)))
    git("add", "notebooks/00_intake.ipynb", cwd=repo)  # no filter here: the outputs are staged
    path.write_text(clean)  # and the working tree looks clean
    [(name, staged)] = committed_notebooks(repo).items()
    assert name == "notebooks/00_intake.ipynb"
    cells = ", ".join(str(i) for i, c in enumerate(staged["cells"]) if c["cell_type"] == "code")
    assert not_clean(staged) == [
        f"{code_cells} code cell(s) hold outputs (cells {cells})",
        f"{code_cells} code cell(s) hold an execution count (cells {cells})",
        "the kernel's language details are kept (" + ", ".join(KERNEL_DETAILS) + ")",
    ]
    assert not_clean(json.loads(clean)) == []


def test_gitattributes_send_every_notebook_through_nbstripout():
    attrs = git("check-attr", "filter", "diff", "--", *(f"notebooks/{s.notebook}" for s in STAGES.values()))
    for spec in STAGES.values():
        assert f"notebooks/{spec.notebook}: filter: nbstripout" in attrs
        assert f"notebooks/{spec.notebook}: diff: ipynb" in attrs


def _repo(tmp_path, names: list[str], *, with_filter: bool) -> Path:
    """A git repository holding the committed notebooks ``names``; ``with_filter``: with the
    filter `make install` sets up (the Makefile's own lines, run as make runs them)."""
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    git("init", "-q", cwd=repo)
    shutil.copy(ROOT / ".gitattributes", repo / ".gitattributes")
    (repo / ".gitignore").write_text((ROOT / ".gitignore").read_text() + ".venv\n")
    if with_filter:
        (repo / ".venv").symlink_to(Path(sys.prefix))  # the filter runs .venv/bin/python, as in the checkout
        subprocess.run(["bash", "-c", makefile_filter_setup()], cwd=repo, check=True)
    for name in names:
        shutil.copy(ROOT / "notebooks" / name, repo / "notebooks" / name)
    git("add", ".", cwd=repo)
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "clean notebooks", cwd=repo)
    return repo


def test_the_filter_make_install_sets_up_commits_a_run_notebook_as_it_was_committed(tmp_path):
    name = "03_touchpoints.ipynb"  # a git filter run costs a second or two: one notebook shows it
    repo = _repo(tmp_path, [name], with_filter=True)
    assert git("config", "--get", "filter.nbstripout.clean", cwd=repo).strip() == ".venv/bin/python -m nbstripout --keep-id"
    path = repo / "notebooks" / name  # Run All and save in any editor: the file on disk holds the outputs
    path.write_text(as_jupyterlab_saves_it_after_run_all(json.loads(path.read_text())))
    assert path.stat().st_size > 50_000 and len(not_clean(json.loads(path.read_text()))) == 3
    assert git("diff", "--stat", cwd=repo) == ""  # git compares the stripped notebook
    git("add", "--all", cwd=repo)
    assert git("diff", "--cached", "--stat", cwd=repo) == "" and git("status", "--porcelain", cwd=repo) == ""
    staged = subprocess.run(["git", "cat-file", "blob", f":notebooks/{name}"], cwd=repo, capture_output=True,
                            check=True).stdout
    assert staged == (ROOT / "notebooks" / name).read_bytes()  # what a commit stores: the committed bytes, ids and all
    # running the setup again (a second make install) changes nothing
    before = (repo / ".git" / "config").read_text(), (repo / ".gitattributes").read_text()
    subprocess.run(["bash", "-c", makefile_filter_setup()], cwd=repo, check=True)
    assert ((repo / ".git" / "config").read_text(), (repo / ".gitattributes").read_text()) == before


def test_make_lab_saves_a_stage_notebook_without_outputs_so_git_status_stays_clean(tmp_path):
    from jupyter_server.services.contents.filemanager import FileContentsManager
    from traitlets.config import Config

    names = [spec.notebook for spec in STAGES.values()]
    repo = _repo(tmp_path, names, with_filter=False)  # the bytes on disk are the committed ones: no filter needed
    # the contents manager of `make lab`: JupyterLab serves notebooks/ with cxlab's pre-save hook
    hook = Config({"ContentsManager": {"pre_save_hook": "cxlab.lab.save_stage_notebook_clean"}})
    lab = FileContentsManager(config=hook, root_dir=str(repo / "notebooks"))
    for name in names:  # Run All, then save, in JupyterLab
        run = json.loads(as_jupyterlab_saves_it_after_run_all(json.loads((repo / "notebooks" / name).read_text())))
        assert len(not_clean(run)) == 3
        lab.save({"type": "notebook", "format": "json", "content": run}, name)
        assert (repo / "notebooks" / name).read_bytes() == (ROOT / "notebooks" / name).read_bytes(), name
    assert git("status", "--porcelain", cwd=repo) == ""
    # a scratch notebook beside them keeps what it shows
    scratch = json.loads(as_jupyterlab_saves_it_after_run_all(json.loads((ROOT / "notebooks" / names[0]).read_text())))
    lab.save({"type": "notebook", "format": "json", "content": scratch}, "scratch.ipynb")
    assert len(not_clean(json.loads((repo / "notebooks" / "scratch.ipynb").read_text()))) == 3


def test_make_lab_runs_as_any_user_on_the_notebooks_with_the_kernel_the_notebooks_name():
    dry = subprocess.run(["make", "-s", "-n", "-B", "lab"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    lab = dry[dry.index("jupyter lab"):]
    assert "--notebook-dir=notebooks" in lab
    assert "--ContentsManager.pre_save_hook=cxlab.lab.save_stage_notebook_clean" in lab
    assert ("--allow-root" in lab) == (os.getuid() == 0)
    # make install's kernel is the python3 every notebook names, under the same display name:
    # JupyterLab writes the running kernel's name into the notebook it saves
    kernel = re.search(r"ipykernel install --sys-prefix --name (\S+) --display-name \"([^\"]+)\"", dry)
    assert kernel, dry
    for name, notebook in committed_notebooks().items():
        spec = notebook["metadata"]["kernelspec"]
        assert (spec["name"], spec["display_name"]) == kernel.groups(), name
