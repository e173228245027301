"""Start-up and memory: ``manage-all.sh up -d`` until every process is ready, and the
resident memory of the running suite, with the suite's default settings.

"An installed checkout": the virtualenv exists and the databases are migrated.
So the suite is first started once in a fresh VAR_DIR (creating and migrating
the databases; that time is shown too) and stopped; then each round times
``up -d`` (it returns once every ``/health/ready`` answers 200 and every worker
is ready), reads the memory of every process it started (with their workers),
and stops the suite again. RSS counts pages shared between forked workers once
per process; PSS splits them, so it is the better sum.

    ./manage-all.sh bench startup [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil

from common import Suite, figure, header, megabytes, memory, this_command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    suite = Suite("startup", defaults=True)
    try:
        first = suite.up()
        header(suite, this_command())
        print(f"first start in a new VAR_DIR (databases created and migrated): {first:.1f} s")
        suite.down()
        seconds, rss, pss = [], [], []
        for round_number in range(1, args.rounds + 1):
            seconds.append(suite.up())
            used = memory(suite)
            suite.down()
            rss.append(sum(r for r, _ in used.values()) / 2**20)
            pss.append(sum(p for _, p in used.values()) / 2**20)
            print(
                f"round {round_number}: up -d {seconds[-1]:.1f} s, {len(used)} processes, "
                f"RSS {rss[-1]:.0f} MB, PSS {pss[-1]:.0f} MB"
            )
        print()
        print("memory of the last round, by process (with its workers): RSS / PSS")
        for name, (process_rss, process_pss) in sorted(used.items()):
            print(f"  {name:24s} {megabytes(process_rss):>8s} / {megabytes(process_pss):>8s}")
        print()
        figure("up -d until all ready, s", seconds, "<= 20")
        figure("resident memory of the suite, RSS MB", rss, "<= 1.2 GB (1229 MB)")
        figure("resident memory of the suite, PSS MB", pss, "<= 1.2 GB (1229 MB)")
    finally:
        suite.down()
        shutil.rmtree(suite.var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
