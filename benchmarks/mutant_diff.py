"""Print the diff of mutmut mutants by name, without a mutation run (issue 19).

    .venv/bin/python benchmarks/mutant_diff.py hedgehog_sync.domain.plan.x__holds_secret__mutmut_12 [...]
    .venv/bin/python benchmarks/mutant_diff.py --from benchmarks/results/mutation-2026-12-01-run10-survivors.txt

mutmut numbers a file's mutants deterministically from its source, so the names in a survivors list
(benchmarks/results/) map to the same diffs at the same commit of the source. `mutmut show` needs the
./mutants tree of a run; this needs only the checkout, and is what to use when killing a survivor or
writing it down in benchmarks/mutation-equivalents/.
"""

import argparse
import sys
from pathlib import Path

import difflib

import libcst as cst
from mutmut.mutation.diff_apply import read_mutant_function, read_original_function
from mutmut.mutation.file_mutation import mutate_file_contents

ROOT = Path(__file__).resolve().parent.parent


def source_path(name: str) -> Path:
    module = name.split(".x", 1)[0] if ".x_" in name or ".xǁ" in name else name.rsplit(".", 1)[0]
    return ROOT / (module.replace(".", "/") + ".py")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--from", dest="listing", help="a file of mutant names, one per line (tab-separated extras ignored)")
    args = parser.parse_args(argv)
    names = list(args.names)
    if args.listing:
        names += [line.split("\t")[0].strip() for line in Path(args.listing).read_text().splitlines() if line.strip()]
    modules = {}  # one mutation and one parse per source file, however many names
    for name in names:
        path = source_path(name)
        if path not in modules:
            modules[path] = cst.parse_module(mutate_file_contents(str(path), path.read_text()).code)
        print(f"# {name}")
        try:
            module = modules[path]
            before, after = (cst.Module([f]).code.strip().split("\n") for f in
                             (read_original_function(module, name), read_mutant_function(module, name)))
        except Exception as exc:  # a name from another commit's source
            print(f"# {name}: not found in {path.relative_to(ROOT)} at this commit ({exc.__class__.__name__})",
                  file=sys.stderr)
            continue
        where = str(path.relative_to(ROOT))
        print("\n".join(difflib.unified_diff(before, after, fromfile=where, tofile=where, lineterm="")))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
