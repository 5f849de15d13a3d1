"""Label issues: training faces whose label out-of-sample scores contradict, found by confident
learning (Northcutt et al., JAIR 2021; cleanlab's ``find_label_issues``, pruned by noise rate) so
that a recipe can leave them out (``data.drop_label_issues``).

Confident learning needs scores that did not see the labels they judge: teachers that each scored only
the faces they held out (``bfer soft-targets --held-out``), or crowd votes (``--votes``). A teacher's
scores on its own training faces have fit those labels and would flag almost nothing, so they are refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BalancedFerError
from .distill import load_soft_targets, soft_targets_out_of_sample


def find_label_issues(targets: str | Path, labels: np.ndarray) -> np.ndarray:
    """A boolean mask over ``labels``: the faces confident learning flags, judged by a soft-targets file
    of out-of-sample scores for the same faces."""
    if not soft_targets_out_of_sample(targets):
        raise BalancedFerError(
            f"{targets}: its teachers scored faces they trained on; label issues need held-out scores "
            "(bfer soft-targets --held-out) or crowd votes (--votes)"
        )
    try:
        from cleanlab.filter import find_label_issues as confident_learning
    except ImportError:
        raise BalancedFerError("data.drop_label_issues needs cleanlab: pip install 'balanced-fer[clean]'") from None
    log_probs, _ = load_soft_targets(targets, labels)
    probs = log_probs.double().softmax(1).numpy()  # fp16 file: renormalised so each row sums to 1
    return confident_learning(np.asarray(labels, dtype=np.int64), probs, n_jobs=1)
