"""Folds by experiment: every experiment tested exactly once, validation from training.

The unit that must generalise is the experiment (a microscope, a day, a cell line):
a fold holds whole experiments out for testing; its validation experiments (which
choose checkpoints) come from its own training experiments. Pure logic: group
names and field counts in, folds out.

Assignment, deterministic: the recipe's own test experiments (if it names any) form
fold 1, so the fixed split stays one of the folds; the other experiments go, largest
first, to the fold with the fewest fields so far (ties: the lower fold). Validation:
the training experiments with the fewest fields (ties by name) until there are
``val_groups`` of them, at least one experiment always left to train on. Fewest
fields keeps the most training data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from edge.errors import ConfigError

FIXED = "fixed split"  # the one 'fold' of a recipe without experiments (one image by columns)


@dataclass(frozen=True, slots=True)
class Fold:
    index: int  # 1-based
    test: tuple[str, ...]
    val: tuple[str, ...]
    train: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"fold{self.index}"


def plan_folds(
    fields_per_group: Mapping[str, int],
    k: int,
    first: Sequence[str] = (),
    val_groups: int = 2,
) -> list[Fold]:
    """``k`` folds over the groups (experiment name -> number of fields)."""
    groups = sorted(fields_per_group)
    if k < 2:
        raise ConfigError("--folds", f"needs at least 2 folds, got {k}")
    if k > len(groups):
        raise ConfigError("--folds", f"{k} folds but only {len(groups)} experiments: {groups}")
    unknown = sorted(set(first) - set(groups))
    if unknown:
        raise ConfigError("data.test_groups", f"no experiment(s) {unknown}; found {groups}")
    if val_groups < 1:
        raise ConfigError("--val-groups", f"needs at least 1, got {val_groups}")
    tests: list[list[str]] = [sorted(first)] if first else []
    tests += [[] for _ in range(k - len(tests))]
    load = [sum(fields_per_group[g] for g in t) for t in tests]
    rest = sorted((g for g in groups if g not in first), key=lambda g: (-fields_per_group[g], g))
    start = 1 if first else 0
    for g in rest:
        target = min(range(start, k), key=lambda i: (load[i], i))
        tests[target].append(g)
        load[target] += fields_per_group[g]
    empty = [i + 1 for i, t in enumerate(tests) if not t]
    if empty:
        raise ConfigError("--folds", f"fold(s) {empty} would test no experiment: use fewer folds")
    folds = []
    for i, test in enumerate(tests):
        train = [g for g in groups if g not in test]
        by_size = sorted(train, key=lambda g: (fields_per_group[g], g))
        val = sorted(by_size[: min(val_groups, len(train) - 1)])
        if not val:
            raise ConfigError(
                "--folds", f"fold {i + 1} leaves one training experiment: none to validate on"
            )
        folds.append(
            Fold(i + 1, tuple(sorted(test)), tuple(val), tuple(g for g in train if g not in val))
        )
    return folds


def fixed_fold() -> Fold:
    """The recipe's own split as the only fold (one image split by columns)."""
    return Fold(1, (FIXED,), (FIXED,), (FIXED,))
