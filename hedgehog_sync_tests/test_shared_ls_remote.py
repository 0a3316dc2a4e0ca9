"""Fabrics that share one Git repository (a fleet monorepo, each fabric under its own path) cost one
`ls-remote` per step on a steady cycle and one fetch per step when the ref moved (the first read too),
not one each; a moved ref is still seen by every fabric.
Real git (counted through a PATH wrapper), a real repository on disk, the real state store."""

from hedgehog_sync.connectors.git import GitRepoCache
from hedgehog_sync.cycle import FabricReader, PersistentParses
from hedgehog_sync.devlab.gitrepos import commit_files, init_repo
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
        assert counter.count("fetch") == 1 and counter.count("ls-remote") == 0, counter.subcommands
    with counting_git(tmp_path / "count") as counter:
        steady = step(counter)
        assert counter.count("ls-remote") == 1, counter.subcommands
        assert counter.count("fetch") == 0
    assert {n: d.commit for n, d in steady.items()} == {n: d.commit for n, d in first.items()}
    assert [o["metadata"]["name"] for o in steady["fab-b"].objects] == ["vpc-fab-b"]

    moved = commit_files(repo, {"fabrics/fab-c/vpc.yaml": vpc("vpc-fab-c", 2000)}, "fab-c moves")
    with counting_git(tmp_path / "count") as counter:
        after = step(counter)
        assert counter.count("ls-remote") == 1 and counter.count("fetch") == 1, counter.subcommands
    assert {d.commit for d in after.values()} == {moved}  # every fabric of the repository sees it
    assert after["fab-c"].objects[0]["spec"]["subnets"]["default"]["vlan"] == 2000
