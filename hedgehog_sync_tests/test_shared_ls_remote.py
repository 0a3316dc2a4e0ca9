"""Fabrics that share one Git repository (a fleet monorepo, each fabric under its own path) cost one
`ls-remote` per step on a steady cycle and one fetch per step when the ref moved (the first read too),
not one each; a moved ref is still seen by every fabric.
Real git (counted through a PATH wrapper), a real repository on disk, the real state store."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import git
import pytest

from hedgehog_sync.connectors.git import GitRepoCache
from hedgehog_sync.cycle import FabricReader, PersistentParses
from hedgehog_sync.devlab.gitrepos import commit_files, init_repo
from hedgehog_sync.domain.errors import GitTimeoutError
from hedgehog_sync.domain.inventory import parse_inventory
from hedgehog_sync.state import FabricWrite, StateStore
from hedgehog_sync_tests.gitcount import counting_git

FABRICS = ("fab-a", "fab-b", "fab-c")


def vpc(name: str, vlan: int) -> str:
    return (f"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {{name: {name}, namespace: default}}\n"
            f"spec:\n  subnets: {{default: {{subnet: 10.0.{vlan % 250}.0/24, vlan: {vlan}}}}}\n")


def test_fabrics_of_one_repository_share_one_ls_remote_and_all_see_a_moved_ref(tmp_path):
    repo = init_repo(tmp_path / "monorepo")
    commit_files(repo, {f"fabrics/{f}/vpc.yaml": vpc(f"vpc-{f}", 1000 + i) for i, f in enumerate(FABRICS)}, "three")
    text = "fabrics:\n" + "".join(
        f"  - name: {f}\n    git: {{url: 'file://{tmp_path / 'monorepo'}', path: fabrics/{f}, allow_local: true}}\n"
        for f in FABRICS)
    inventory = parse_inventory(text, "fabrics.yaml")
    assert inventory.problems == []
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")

    steps = []

    def step(counter=None):
        """One read_git step: a new reader (a new run), primed from the store, parses kept after."""
        reader = FabricReader(GitRepoCache(tmp_path / f"scratch-{len(steps)}", share_clones=True),
                              parses=PersistentParses(store),
                              share_remote_heads=True)  # as FleetResource.reader builds it for a step
        reader.parses.prime(store.load_parses(FABRICS), FABRICS)
        if counter is not None:
            counter.clear()
        try:
            got = {cfg.name: reader.read_desired(cfg) for cfg in inventory.fabrics}
        finally:
            reader.close()
        store.commit([FabricWrite(name, parses=doc) for name, doc in reader.parses.take_saved().items()])
        steps.append(got)
        return got

    with counting_git(tmp_path / "count") as counter:  # a new worker's scratch is empty: one fetch for all three
        first = step(counter)
        assert counter.count("fetch") == 1 and counter.count("ls-remote") == 0, counter.subcommands()
    with counting_git(tmp_path / "count") as counter:
        steady = step(counter)
        assert counter.count("ls-remote") == 1, counter.subcommands()
        assert counter.count("fetch") == 0
    assert {n: d.commit for n, d in steady.items()} == {n: d.commit for n, d in first.items()}
    assert [o["metadata"]["name"] for o in steady["fab-b"].objects] == ["vpc-fab-b"]

    moved = commit_files(repo, {"fabrics/fab-c/vpc.yaml": vpc("vpc-fab-c", 2000)}, "fab-c moves")
    with counting_git(tmp_path / "count") as counter:
        after = step(counter)
        assert counter.count("ls-remote") == 1 and counter.count("fetch") == 1, counter.subcommands()
    assert {d.commit for d in after.values()} == {moved}  # every fabric of the repository sees it
    assert after["fab-c"].objects[0]["spec"]["subnets"]["default"]["vlan"] == 2000


def probes(counter) -> int:
    """`git cat-file -e`: the connector asking its clone whether it holds a commit it was told."""
    return sum(1 for call in counter.of("cat-file") if "-e" in call.args)


def _monorepos(tmp_path, names=("mono-1", "mono-2")):
    """Two repositories of two fabrics each; the inventory's fabrics in order mono-1's, then mono-2's."""
    lines = ["fabrics:"]
    for r, name in enumerate(names):
        repo = init_repo(tmp_path / name)
        commit_files(repo, {f"fabrics/f{r}{i}/vpc.yaml": vpc(f"vpc-{r}{i}", 1000 + 10 * r + i) for i in (1, 2)}, "two")
        lines += [f"  - name: fab-{r}{i}\n    git: {{url: 'file://{tmp_path / name}', path: fabrics/f{r}{i}, "
                  f"allow_local: true}}" for i in (1, 2)]
    inventory = parse_inventory("\n".join(lines) + "\n", "fabrics.yaml")
    assert inventory.problems == []
    return inventory


def test_each_repository_fetches_once_and_no_hint_crosses_repositories(tmp_path):
    """Cold, one reader for the step: one fetch per repository; a fabric is told a commit only by a
    fabric of its own repository (a hint from another one would cost a `cat-file` that finds nothing)."""
    inventory = _monorepos(tmp_path)
    reader = FabricReader(GitRepoCache(tmp_path / "scratch", share_clones=True), share_remote_heads=True)
    with counting_git(tmp_path / "count") as counter:
        got = [reader.read_desired(cfg) for cfg in inventory.fabrics]
    assert counter.count("fetch") == 2 and counter.count("ls-remote") == 0, counter.subcommands()
    assert probes(counter) == 2  # the second fabric of each repository: found, not fetched
    assert [d.objects[0]["metadata"]["name"] for d in got] == ["vpc-01", "vpc-02", "vpc-11", "vpc-12"]
    assert got[0].commit == got[1].commit != got[2].commit == got[3].commit


def test_fabrics_with_other_credentials_are_never_told_each_others_commit(tmp_path, monkeypatch):
    monkeypatch.setenv("HEDGEHOG_SYNC_ONE_GIT_TOKEN", "unused-for-file-urls")
    inventory = _monorepos(tmp_path, names=("mono-1",))
    second = inventory.fabrics[1]
    second = second.model_copy(update={"git": second.git.model_copy(update={"token_env": "HEDGEHOG_SYNC_ONE_GIT_TOKEN"})})
    reader = FabricReader(GitRepoCache(tmp_path / "scratch", share_clones=True), share_remote_heads=True)
    with counting_git(tmp_path / "count") as counter:
        first, other = reader.read_desired(inventory.fabrics[0]), reader.read_desired(second)
    assert counter.count("fetch") == 2 and probes(counter) == 0, counter.subcommands()
    assert first.commit == other.commit


def test_a_reader_kept_across_cycles_never_reuses_a_commit_even_with_shared_clones(tmp_path):
    """Without share_remote_heads (the CLI keeps one reader for every cycle) nothing is remembered: a
    moved ref is read at its new commit, and fabrics of one repository each fetch."""
    inventory = _monorepos(tmp_path, names=("mono-1",))
    reader = FabricReader(GitRepoCache(tmp_path / "scratch", share_clones=True))
    assert reader.read_desired(inventory.fabrics[0]).objects[0]["spec"]["subnets"]["default"]["vlan"] == 1001
    moved = commit_files(git.Repo(tmp_path / "mono-1"), {"fabrics/f01/vpc.yaml": vpc("vpc-01", 3001)}, "moved")
    with counting_git(tmp_path / "count") as counter:
        again = [reader.read_desired(cfg) for cfg in inventory.fabrics]
    assert [d.commit for d in again] == [moved, moved]
    assert again[0].objects[0]["spec"]["subnets"]["default"]["vlan"] == 3001
    assert counter.count("fetch") == 2 and probes(counter) == 0, counter.subcommands()


def test_shared_heads_with_clones_of_its_own_per_fabric_fetch_each_fabric(tmp_path):
    """share_remote_heads with a cache that does not share clones (each fabric its own clone): no
    commit is handed on, since no other fabric's clone could hold it."""
    inventory = _monorepos(tmp_path, names=("mono-1",))
    reader = FabricReader(GitRepoCache(tmp_path / "scratch"), share_remote_heads=True)
    with counting_git(tmp_path / "count") as counter:
        got = [reader.read_desired(cfg) for cfg in inventory.fabrics]
    assert counter.count("fetch") == 2 and probes(counter) == 0, counter.subcommands()
    assert got[0].commit == got[1].commit


class _HungGitHost(BaseHTTPRequestHandler):
    """A git host that never answers (until the test ends): counts the requests it was sent."""

    requests: list
    release: threading.Event

    def do_GET(self):
        self.requests.append(self.path)
        self.release.wait(120)

    def log_message(self, *args):
        pass


def _hung_fleet(tmp_path):
    handler = type("Hung", (_HungGitHost,), {"requests": [], "release": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/fleet.git"
    text = "fabrics:\n" + "".join(f"  - name: {f}\n    git: {{url: '{url}', path: fabrics/{f}, allow_local: true}}\n"
                                  for f in FABRICS)
    inventory = parse_inventory(text, "fabrics.yaml")
    assert inventory.problems == []
    return server, handler, inventory


def _new_step_reader(tmp_path, n):
    return FabricReader(GitRepoCache(tmp_path / f"scratch-{n}", timeout_seconds=1, share_clones=True),
                        share_remote_heads=True)


def test_a_hung_repository_costs_one_timeout_a_step_not_one_per_fabric(tmp_path):
    """Fabrics of one repository take turns; when the host does not answer, the first fabric's request
    times out and the others of that repository get their own timeout error without asking (each
    fabric still has its error, nothing else is held up); the next step asks again."""
    server, handler, inventory = _hung_fleet(tmp_path)
    try:
        for step, ask in enumerate((lambda r, cfg: r.read_desired(cfg),   # cold: the shared fetch
                                    lambda r, cfg: r._remote_head(cfg))):  # steady: the shared ls-remote
            reader = _new_step_reader(tmp_path, step)
            errors = []
            for cfg in inventory.fabrics:
                with pytest.raises(GitTimeoutError) as caught:
                    ask(reader, cfg)
                errors.append(str(caught.value))
            reader.close()
            assert len(handler.requests) == step + 1, handler.requests  # one request a step, not three
            assert "was not asked" not in errors[0]  # its own timeout: git was stopped, or curl gave up
            for name, text in zip(FABRICS[1:], errors[1:]):
                assert text.startswith(f"fabric {name}: git was not asked:"), text
                assert "did not answer fabric fab-a's request within 1 s in this run" in text
                assert "the next run asks again" in text
    finally:
        handler.release.set()
        server.shutdown()
        server.server_close()


def test_a_reader_kept_across_cycles_asks_a_hung_repository_for_every_fabric(tmp_path):
    """Without share_remote_heads (the CLI's reader) nothing is shared, a timeout neither."""
    server, handler, inventory = _hung_fleet(tmp_path)
    reader = FabricReader(GitRepoCache(tmp_path / "scratch", timeout_seconds=1, share_clones=True))
    try:
        for cfg in inventory.fabrics:
            with pytest.raises(GitTimeoutError):
                reader.read_desired(cfg)
        assert len(handler.requests) == 3
    finally:
        reader.close()
        handler.release.set()
        server.shutdown()
        server.server_close()


def test_the_fabric_that_timed_out_retries_itself_and_an_answer_lets_the_others_ask_again(tmp_path):
    """Within a cycle a timed-out fabric is retried (a timeout is transient): its retry asks git again,
    and once the repository answers, the step's other fabrics of it are asked as usual."""
    server, handler, inventory = _hung_fleet(tmp_path)
    reader = _new_step_reader(tmp_path, 0)
    first, second = inventory.fabrics[0], inventory.fabrics[1]
    try:
        with pytest.raises(GitTimeoutError):
            reader._remote_head(first)
        with pytest.raises(GitTimeoutError, match="git was not asked"):
            reader._remote_head(second)
        with pytest.raises(GitTimeoutError) as again:
            reader._remote_head(first)  # the fabric's own retry asks git again
        assert "was not asked" not in str(again.value) and len(handler.requests) == 2
        reader._timed_out.clear()  # stands for the retry that got an answer (tested below through a real one)
    finally:
        reader.close()
        handler.release.set()
        server.shutdown()
        server.server_close()
    repo = init_repo(tmp_path / "mono")
    commit_files(repo, {f"fabrics/{f}/vpc.yaml": vpc(f"vpc-{f}", 1000 + i) for i, f in enumerate(FABRICS)}, "three")
    answering = parse_inventory("fabrics:\n" + "".join(
        f"  - name: {f}\n    git: {{url: 'file://{tmp_path / 'mono'}', path: fabrics/{f}, allow_local: true}}\n"
        for f in FABRICS), "fabrics.yaml").fabrics
    step = _new_step_reader(tmp_path, 1)
    key = (answering[0].git.url, answering[0].git.ref, answering[0].git.token_env)
    step._timed_out[key] = "fab-a"  # fab-a timed out earlier in this step ...
    try:
        with pytest.raises(GitTimeoutError, match="did not answer fabric fab-a's request"):
            step._remote_head(answering[1])
        assert step._remote_head(answering[0]) == repo.head.commit.hexsha  # ... and its retry is answered
        assert step._remote_head(answering[1]) == repo.head.commit.hexsha  # the others are answered again
        assert key not in step._timed_out
    finally:
        step.close()
