"""One torchrun worker of ``xnorflow train --nproc N`` (started by train/distributed.py's launch).

``python -m xnorflow.train.worker KWARGS.json``: runs :func:`xnorflow.train.api.train` with
the keyword arguments in the file; rank 0 leaves the run's summary for the launcher, and a rank
that fails leaves its error (kind and message) beside it. Exit codes: 0 done, 2 a user error,
1 training diverged or another error, 75 (LOST_PEER_EXIT) another rank vanished.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    warnings.filterwarnings("ignore", message=".*fast_hadamard_transform.*")
    logging.basicConfig(level=logging.WARNING)
    from .api import train
    from .distributed import LOST_PEER_EXIT, RankFailed, write_state
    from .errors import UserError
    from .loop import TrainingDiverged

    kwargs = json.loads(open(argv[-1]).read())
    rank = int(os.environ.get("RANK", "0"))
    try:
        result = train(**kwargs)
    except KeyboardInterrupt:  # torchrun passes the launcher's Ctrl-C on; the launcher says it
        sys.stderr.flush()
        os._exit(130)  # at once: a normal interpreter exit here kept torchrun waiting ~30 s
    except (UserError, TrainingDiverged, RankFailed) as exc:
        kind = type(exc).__name__
        # the launcher reports it (once, for all ranks)
        write_state(f"error-{rank}.json", {"rank": rank, "kind": kind, "message": str(exc)})
        return {"UserError": 2, "TrainingDiverged": 1}.get(kind, LOST_PEER_EXIT)
    if rank == 0:
        write_state("summary.json", result.to_summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
