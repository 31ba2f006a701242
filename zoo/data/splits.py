"""Subject-level splits: every subject goes to exactly one of train/val/test (seeded)."""

from __future__ import annotations

import math
import random


def split_subjects(subjects: list[str], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                   seed: int = 42) -> dict[str, str]:
    """Assign each distinct subject to ``train``, ``val`` or ``test``.

    Subjects are sorted, shuffled with ``random.Random(seed)`` (as the paper's BraTS split), then cut
    by ``fractions``. With at least as many subjects as non-zero fractions, every such split gets at
    least one subject.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    unique = sorted(set(subjects))
    random.Random(seed).shuffle(unique)
    n = len(unique)
    need = [1 if f > 0 and n >= sum(g > 0 for g in fractions) else 0 for f in fractions]
    val = max(need[1], int(round(fractions[1] * n)))
    test = max(need[2], int(round(fractions[2] * n)))
    while n - val - test < need[0]:  # keep at least one training subject
        if val >= test and val > need[1]:
            val -= 1
        else:
            test -= 1
    names = ["train"] * (n - val - test) + ["val"] * val + ["test"] * test
    return dict(zip(unique, names, strict=True))
