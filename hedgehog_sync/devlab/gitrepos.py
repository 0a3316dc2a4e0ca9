"""Local GitOps repositories for the demo, tests and benchmark: create them and commit to them."""

from __future__ import annotations

import os
from pathlib import Path

import git  # GitPython

_AUTHOR = git.Actor("hedgehog-sync devlab", "devlab@hedgehog-sync.invalid")


def init_repo(path: str | os.PathLike[str], branch: str = "main") -> git.Repo:
    """A new non-bare repository whose default branch is `branch`."""
    Path(path).mkdir(parents=True, exist_ok=True)
    repo = git.Repo.init(path, initial_branch=branch)
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", _AUTHOR.name)
        cfg.set_value("user", "email", _AUTHOR.email)
    return repo


def commit_files(repo: git.Repo, files: dict[str, str | bytes | None], message: str) -> str:
    """Write (or, with None, delete) files relative to the work tree and commit; returns the SHA."""
    root = Path(repo.working_tree_dir or ".")
    for rel, content in files.items():
        target = root / rel
        if content is None:
            if target.exists():
                repo.index.remove([rel], working_tree=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        repo.index.add([rel])
    commit = repo.index.commit(message, author=_AUTHOR, committer=_AUTHOR)
    return commit.hexsha
