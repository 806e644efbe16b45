"""What the evidence's words say about the cause: a naive Bayes update of the platform's base rates.

A report whose words match no case closely enough to be a neighbour ("the deployment fails when it
loads the model after I retrained it") still shares single words with whole categories of real
cases: "memory" with out-of-memory kills, "capacity" with unschedulable pods. Each word alone says
little; together they shift the base rates. This is the multinomial naive Bayes of text
classification, over the distinct terms of each case (binarized, as Wang & Manning, "Baselines and
Bigrams", ACL 2012, and Metsis et al., "Spam Filtering with Naive Bayes - Which Naive Bayes?", 2006,
found best for short texts), with Laplace smoothing. Terms no case holds say nothing and are skipped.

The model is counted from the known-issue index's cases, so leaving a thread out of the index (the
corpus bench does) leaves it out here too.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable, Mapping, Sequence

SMOOTHING = 1.0


class WordModel:
    def __init__(self, categories: Sequence[str], docs: Sequence[Counter]):
        self.holding: dict[str, Counter] = {}
        self.total: Counter = Counter()
        vocabulary: set[str] = set()
        for category, doc in zip(categories, docs):
            self.holding.setdefault(category, Counter()).update(doc.keys())
            self.total[category] += len(doc)
            vocabulary.update(doc.keys())
        self.vocabulary = frozenset(vocabulary)

    def update(self, prior: Mapping[str, float], words: Iterable[str]) -> dict[str, float]:
        """The posterior shares of the categories in ``prior`` given ``words``; the prior itself
        when no word is known."""
        known = {w for w in words if w in self.vocabulary}
        if not known or not prior:
            return dict(prior)
        size = len(self.vocabulary)
        logs = {}
        for category, share in prior.items():
            if share <= 0:
                continue
            holding, total = self.holding.get(category, Counter()), self.total.get(category, 0)
            denominator = math.log(total + SMOOTHING * size)
            logs[category] = math.log(share) + sum(math.log(holding.get(w, 0) + SMOOTHING) - denominator for w in known)
        if not logs:
            return dict(prior)
        top = max(logs.values())
        weights = {category: math.exp(value - top) for category, value in logs.items()}
        total_weight = sum(weights.values())
        return {category: weight / total_weight for category, weight in weights.items()}

    def telling(self, category: str, words: Iterable[str], limit: int = 3) -> list[str]:
        """The words that raise ``category`` most against the other categories, most telling first:
        what a report can quote as the reason for the shift."""
        holding, total = self.holding.get(category, Counter()), self.total.get(category, 0)
        rest_total = sum(self.total.values()) - total
        size = len(self.vocabulary)
        scored = []
        # A word one case happens to hold ("after", "off") is chance, not a reason to quote.
        for w in {w for w in words if holding.get(w, 0) >= 2}:
            rest = sum(c.get(w, 0) for c in self.holding.values()) - holding[w]
            ratio = math.log((holding[w] + SMOOTHING) / (total + SMOOTHING * size)) - math.log(
                (rest + SMOOTHING) / (rest_total + SMOOTHING * size)
            )
            if ratio > 0:
                scored.append((-ratio, w))
        return [w for _, w in sorted(scored)[:limit]]
