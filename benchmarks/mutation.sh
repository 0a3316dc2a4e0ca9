#!/usr/bin/env bash
# Mutation score (issue 19): mutmut over domain/, cycle.py and the connectors' redaction and budget code.
#
#   git worktree add --detach /tmp/hedgehog-mutation HEAD      # never in a checkout you are editing
#   cd /tmp/hedgehog-mutation && benchmarks/mutation.sh [--max-children N] [--check-equivalents]
#
# mutmut (pinned in setup.cfg's test extra; its settings are [tool.mutmut] in pyproject.toml) copies
# hedgehog_sync/, the tests and docs/ to ./mutants and runs each mutant against the tests that reach
# the mutated function. This script adds what the configuration cannot say:
#   - the scope: every mutant of domain/ and cycle.py, but of connectors/git.py and kubernetes.py only
#     the budget and redaction functions (SCOPE below: mutmut mutates whole files, so the names are
#     given to `mutmut run`, which then runs those mutants and only the tests that reach them; the
#     2,400 other mutants of the two connectors, each covered by tests that start git servers, would
#     double the run);
#   - PYTHONPATH=. so that processes the tests start import this worktree's code, not an editable
#     install of another checkout (mutants are only applied in-process: mutmut's trampolines cannot
#     run in a child process, so tests that reach the code only through `hedgehog-sync check` do not
#     count, and are left out of the selection);
#   - the mutants written down as equivalent (benchmarks/mutation-equivalents/) run no test: the mutation
#     plugin answers "no tests" for them and the tally counts them equivalent (a listed mutant survives by
#     definition, so it would pay every test of its function); --check-equivalents runs them too and
#     reports any that a test now kills;
#   - the tests that killed a function's earlier mutants run first for its next ones, and each test has
#     mutmut's time limit on its own (the mutation plugin's docstring says how and why);
#   - a check that a deliberate mutant is killed (proof the tests import the mutated code);
#   - the counts over the scope and the list of surviving mutants, in ./mutants/summary.txt and
#     ./mutants/survivors.txt (`mutmut show <name>` prints one mutant's diff).
# Everything runs under `nice -n 10`.
set -euo pipefail

cd "$(git rev-parse --show-toplevel)"
VENV="${VENV:-$(pwd)/.venv}"
[ -x "$VENV/bin/mutmut" ] || VENV="$(git worktree list --porcelain | awk '/^worktree /{print $2; exit}')/.venv"
MUTMUT="$VENV/bin/mutmut"
PYTHON="$VENV/bin/python"
MAX_CHILDREN="$(nproc)"
CHECK_EQUIVALENTS=
while [ $# -gt 0 ]; do
  case "$1" in
    --max-children) MAX_CHILDREN="$2"; shift 2 ;;
    --check-equivalents) CHECK_EQUIVALENTS=1; shift ;;
    *) echo "usage: benchmarks/mutation.sh [--max-children N] [--check-equivalents]" >&2; exit 2 ;;
  esac
done

SCOPE=(
  "hedgehog_sync.domain.*"
  "hedgehog_sync.cycle.*"
  # connectors/git.py: budgets, the token policy (what reaches git, what is refused)
  "hedgehog_sync.connectors.git.xǁGitBudgetsǁ*"
  "hedgehog_sync.connectors.git.x__budget__mutmut_*"
  "hedgehog_sync.connectors.git.x__max_documents__mutmut_*"
  "hedgehog_sync.connectors.git.xǁGitRepoCacheǁ_check_fetch_budget__mutmut_*"
  "hedgehog_sync.connectors.git.x__check_token_policy__mutmut_*"
  "hedgehog_sync.connectors.git.x__allowed_protocols__mutmut_*"
  # connectors/kubernetes.py: budgets, capped reads, tokens and their registration for redaction
  "hedgehog_sync.connectors.kubernetes.xǁBudgetǁ*"
  "hedgehog_sync.connectors.kubernetes.xǁReadBudgetsǁ*"
  "hedgehog_sync.connectors.kubernetes.x_budget_value__mutmut_*"
  "hedgehog_sync.connectors.kubernetes.x__budget_error__mutmut_*"
  "hedgehog_sync.connectors.kubernetes.x__deadline_error__mutmut_*"
  "hedgehog_sync.connectors.kubernetes.x_read_capped_file__mutmut_*"
  "hedgehog_sync.connectors.kubernetes.xǁ_CappedKubeConfigMergerǁ*"
  "hedgehog_sync.connectors.kubernetes.x__deeper_than__mutmut_*"
  "hedgehog_sync.connectors.kubernetes.x__check_sizes__mutmut_*"
  "hedgehog_sync.connectors.kubernetes.x__token_text__mutmut_*"
  "hedgehog_sync.connectors.kubernetes.x__checked_token__mutmut_*"
  "hedgehog_sync.connectors.kubernetes.xǁ_InClusterLoaderǁ_read_token_file__mutmut_*"
  "hedgehog_sync.connectors.kubernetes.x__register_credentials__mutmut_*"
  "hedgehog_sync.connectors.kubernetes.x__normalize_user_token__mutmut_*"
  "hedgehog_sync.connectors.kubernetes.x__check_authorization__mutmut_*"
)
# A mutant that must be killed: presence_severity answering None instead of critical/high.
PROOF="hedgehog_sync.domain.diff.x_presence_severity__mutmut_*"

# Processes the tests start (`hedgehog-sync check`, the devlab servers) import this worktree's
# unmutated code, never an editable install of another checkout; mutmut itself takes this entry off
# its own sys.path (it resolves to the working directory) and puts ./mutants first.
export PYTHONPATH="$(pwd)"
if [ -z "$CHECK_EQUIVALENTS" ]; then export HEDGEHOG_SYNC_MUTATION_EQUIVALENTS="$(pwd)/benchmarks/mutation-equivalents"; fi
# Each kill is written down per mutated function; the next mutants of that function run its killers first.
export HEDGEHOG_SYNC_MUTATION_KILLERS="$(pwd)/mutants/killers"
export CI=true  # the fuzz profile derandomizes under CI; pytest gets --hypothesis-seed=0 (pyproject.toml)
rm -rf mutants
started=$(date +%s)
echo "mutation run: $(git rev-parse HEAD) $(date -u +%FT%TZ), $MAX_CHILDREN children, load: $(cut -d' ' -f1-3 /proc/loadavg)," \
     "equivalents ${CHECK_EQUIVALENTS:+checked}${CHECK_EQUIVALENTS:-skipped}"
nice -n 10 "$MUTMUT" run --max-children "$MAX_CHILDREN" "${SCOPE[@]}" 2>&1 | tr '\r' '\n' | grep -v '^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]' | grep -v -E '^(🎉|⏰|🫥|🙁|🤔|🔇|🧙) ' || true
finished=$(date +%s)

"$PYTHON" - "$((finished - started))" "$PROOF" "${SCOPE[@]}" <<'EOF'
import fnmatch, json, sys
from pathlib import Path

seconds, proof, scope = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
from mutmut.stats import status_by_exit_code  # mutmut's own verdict per exit code

# Equivalent mutants, each read and written down with its reason: one "name<TAB>reason" a line in
# benchmarks/mutation-equivalents/*.txt. They leave the score's denominator; one a test kills is an error
# in the list, and is reported.
equivalent = {}
for listing in sorted(Path("benchmarks/mutation-equivalents").glob("*.txt")):
    for number, line in enumerate(listing.read_text().splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition("\t")
            if not reason.strip():
                sys.exit(f"{listing}:{number}: an equivalent mutant needs its reason after a tab")
            equivalent[name.strip()] = reason.strip()

results = {}
for meta in Path("mutants").rglob("*.py.meta"):
    for key, code in json.loads(meta.read_text())["exit_code_by_key"].items():
        if any(fnmatch.fnmatch(key, p) for p in scope):
            results[key] = status_by_exit_code[code]
wrongly_equivalent = sorted(k for k in equivalent if results.get(k) in ("killed", "timeout"))
unknown_equivalent = sorted(k for k in equivalent if k not in results)
for key in equivalent:
    if results.get(key) in ("survived", "no tests", "suspicious"):
        results[key] = "equivalent"
counts = {}
for verdict in results.values():
    counts[verdict] = counts.get(verdict, 0) + 1
proved = [k for k, v in results.items() if fnmatch.fnmatch(k, proof) and v == "killed"]
if not proved:
    sys.exit(f"no mutant of {proof} was killed: the tests did not import the mutated code")
killed = counts.get("killed", 0) + counts.get("timeout", 0) + counts.get("caught by type check", 0)
checked = (sum(counts.values()) - counts.get("skipped", 0) - counts.get("not checked", 0)
           - counts.get("equivalent", 0))
by_module = {}
for key, verdict in results.items():
    module = key.rsplit(".", 1)[0]
    row = by_module.setdefault(module, {})
    row[verdict] = row.get(verdict, 0) + 1
lines = [f"duration: {seconds // 60} min {seconds % 60} s", f"mutants in scope: {len(results)}",
         *(f"  {v}: {n}" for v, n in sorted(counts.items())),
         f"score (killed + timeout) / checked: {killed}/{checked} = {100 * killed / max(checked, 1):.1f} %",
         f"proof: {len(proved)} mutants of {proof} killed",
         f"equivalent (benchmarks/mutation-equivalents/): {counts.get('equivalent', 0)} left out of the score",
         *(f"  listed as equivalent but killed (remove from the list): {k}" for k in wrongly_equivalent),
         *(f"  listed as equivalent but no such mutant in scope: {k}" for k in unknown_equivalent),
         "", "per module (survived / no tests / total):"]
for module, row in sorted(by_module.items()):
    lines.append(f"  {module}: {row.get('survived', 0)} / {row.get('no tests', 0)} / {sum(row.values())}")
Path("mutants/summary.txt").write_text("\n".join(lines) + "\n")
Path("mutants/survivors.txt").write_text("".join(
    f"{k}\t{v}\n" for k, v in sorted(results.items()) if v in ("survived", "no tests", "suspicious")))
print("\n".join(lines))
EOF
