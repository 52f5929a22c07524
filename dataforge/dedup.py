"""Near-duplicate questions within a run, and contamination against reference benchmarks.

Near-duplicates: text normalised and digits masked (the same story with new numbers is a
duplicate), then ROUGE-L F >= 0.7 on word tokens as Self-Instruct does, computed by
rapidfuzz's LCS. Candidates come from MinHash LSH over content words so the work grows
linearly with the run, not quadratically. LSH can miss a pair with few shared content
words; the exact-text check never misses.
"""

import re
from collections import defaultdict

import numpy as np
from rapidfuzz.distance import LCSseq

ROUGE_L_THRESHOLD = 0.7
_WORD = re.compile(r"[a-z0-9]+")
_DIGITS = re.compile(r"[0-9]+(?:[.,][0-9]+)*")
_STOP = set("a an the and or of for to in on at by with from per each is are was were be has have had "
            "how many much what if he she it they his her their its this that there then than will does do".split())

# MinHash LSH: 16 bands of 2 rows. A pair sharing half its content words is a candidate with
# probability 1-(1-0.5^2)^16 = 99%; unrelated questions (a tenth shared) only 15% of the time.
_BANDS, _ROWS = 16, 2
_PRIME = (1 << 61) - 1
_rng = np.random.default_rng(12345)
# as datasketch does: a, b below the prime, the product wrapping in uint64, so each row orders hashes differently
_A = _rng.integers(1, _PRIME, size=_BANDS * _ROWS, dtype=np.uint64)
_B = _rng.integers(0, _PRIME, size=_BANDS * _ROWS, dtype=np.uint64)


def masked_tokens(text: str) -> list[str]:
    """Lowercase word tokens with every number replaced by '#'."""
    return _WORD.findall(_DIGITS.sub(" # ", text.lower()).replace("#", "0"))


def rouge_l(a: list[str], b: list[str]) -> float:
    if not a or not b:
        return 0.0
    return 2 * LCSseq.similarity(a, b) / (len(a) + len(b))


def _minhash_bands(token_lists: list[list[str]]) -> np.ndarray:
    """One row of band keys per text, computed for all texts at once (numpy, no Python loop per hash)."""
    sets = [sorted({hash(t) & 0x7FFFFFFF for t in toks if t not in _STOP and t != "0"}) or [0] for toks in token_lists]
    lengths = np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets))
    flat = np.fromiter((h for s in sets for h in s), dtype=np.uint64, count=int(lengths.sum()))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    sig = np.empty((len(sets), _BANDS * _ROWS), dtype=np.uint64)
    for k in range(_BANDS * _ROWS):
        sig[:, k] = np.minimum.reduceat(((flat * _A[k] + _B[k]) % _PRIME) & 0xFFFFFFFF, starts)
    rows = sig.reshape(len(sets), _BANDS, _ROWS)
    return rows[:, :, 0] * np.uint64(1_000_003) + rows[:, :, 1]


class NearDuplicates:
    """Feed questions in order; each is compared with the earlier ones kept. The first one stays."""

    def __init__(self, threshold: float = ROUGE_L_THRESHOLD, max_candidates: int = 64):
        self.threshold = threshold
        self.max_candidates = max_candidates
        self.exact: dict[str, str] = {}
        self.buckets: list[dict] = [defaultdict(list) for _ in range(_BANDS)]
        self.kept_tokens: list[list[str]] = []
        self.kept_labels: list[str] = []

    def check_all(self, questions: list[str], labels: list[str]) -> list[str | None]:
        """For each question: None when it is new, else a message naming the earlier one it repeats."""
        tokens = [masked_tokens(q) for q in questions]
        bands = _minhash_bands(tokens) if questions else []
        out = []
        for toks, band_keys, label in zip(tokens, bands, labels):
            out.append(self._check(toks, band_keys.tolist(), label))
        return out

    def _check(self, toks: list[str], band_keys: list[int], label: str) -> str | None:
        key = " ".join(toks)
        if key in self.exact:
            return f"same question as {self.exact[key]} (numbers aside)"
        seen = set()
        for band, bucket_key in enumerate(band_keys):
            for idx in self.buckets[band].get(bucket_key, ()):
                if idx in seen:
                    continue
                seen.add(idx)
                if len(seen) > self.max_candidates:
                    break
                score = rouge_l(toks, self.kept_tokens[idx])
                if score >= self.threshold:
                    return f"near-duplicate of {self.kept_labels[idx]} (ROUGE-L {score:.2f})"
        idx = len(self.kept_tokens)
        self.kept_tokens.append(toks)
        self.kept_labels.append(label)
        self.exact[key] = label
        for band, bucket_key in enumerate(band_keys):
            self.buckets[band][bucket_key].append(idx)
        return None


class Contamination:
    """Questions overlapping a reference benchmark: a shared 13-gram, or >= 50% of the
    question's digit-masked 8-grams inside one reference item."""

    def __init__(self, references: list[tuple[str, str]]):
        """references: (label, question text) pairs, e.g. ('test.jsonl:12', '...')."""
        self.labels = [label for label, _ in references]
        self.grams13: dict[int, int] = {}
        self.grams8: dict[int, list[int]] = defaultdict(list)
        for i, (_, text) in enumerate(references):
            words = _WORD.findall(text.lower())
            for g in _ngrams(words, 13):
                self.grams13.setdefault(g, i)
            for g in set(_ngrams(masked_tokens(text), 8)):
                self.grams8[g].append(i)

    def match(self, question: str) -> str | None:
        words = _WORD.findall(question.lower())
        for g in _ngrams(words, 13):
            if g in self.grams13:
                return f"shares a 13-word passage with {self.labels[self.grams13[g]]}"
        grams = set(_ngrams(masked_tokens(question), 8))
        if not grams:
            return None
        counts: dict[int, int] = defaultdict(int)
        for g in grams:
            for i in self.grams8.get(g, ()):
                counts[i] += 1
        if counts:
            best, n = max(counts.items(), key=lambda kv: kv[1])
            if n / len(grams) >= 0.5:
                return f"{n / len(grams):.0%} of its 8-word passages (numbers masked) are in {self.labels[best]}"
        return None


def _ngrams(words: list[str], n: int) -> list[int]:
    return [hash(tuple(words[i:i + n])) for i in range(len(words) - n + 1)]
