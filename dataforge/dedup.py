"""Near-duplicate questions within a run, and contamination against reference benchmarks.

Near-duplicates: text normalised and digits masked (the same story with new numbers is a
duplicate), then ROUGE-L F >= 0.7 on word tokens as Self-Instruct does, computed by
rapidfuzz (Indel similarity is 2·LCS/(a+b), ROUGE-L F). Candidates come from MinHash LSH over content words so the work grows
linearly with the run, not quadratically. LSH can miss a pair with few shared content
words; the exact-text check never misses.
"""

import re
import zlib
from collections import defaultdict

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Indel

ROUGE_L_THRESHOLD = 0.7
_WORD = re.compile(r"[a-z0-9]+")
_MASKED = re.compile(r"[a-z]+|[0-9]+(?:[.,][0-9]+)*")  # words, and numbers as written (1,250.50)
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


def _mask(token: str) -> str:
    """A word as it is, a number as '0': the same story with new numbers is a duplicate."""
    return token if token[0] > "9" else "0"


def masked_tokens(text: str) -> list[str]:
    """Lowercase word tokens with every number replaced by '0'."""
    return list(map(_mask, _MASKED.findall(text.lower())))


_chars: dict[str, str] = {}


def word_chars(tokens: list[str]) -> list[str]:
    """One character per word, every number the same one ('0'), so rapidfuzz compares questions
    word by word at string speed.

    From crc32, so the same in every run (Python's str hash is salted per process), and cached.
    Two words share a character about once in a million pairs; that can only nudge a score up.
    """
    out = list(map(_chars.get, tokens))
    if None in out:
        if len(_chars) > 1_000_000:
            _chars.clear()  # bound the cache on pathological vocabularies
        for k, t in enumerate(tokens):
            if out[k] is None:
                out[k] = _chars[t] = chr(0x10000 + (zlib.crc32(_mask(t).encode("utf-8")) & 0xFFFFF))
    return out


_STOP_CHARS = set(word_chars(sorted(_STOP | {"0"})))


def dedup_keys(questions: list[str]) -> tuple[list[str], np.ndarray]:
    """For each question: its digit-masked word string and its MinHash band keys (one row each)."""
    words, content = [], []
    for question in questions:
        chars = word_chars(_MASKED.findall(question.lower()))
        words.append("".join(chars))
        content.append("".join(set(chars) - _STOP_CHARS))  # content words, each once
    return words, _minhash_bands(content)


def _minhash_bands(word_sets: list[str]) -> np.ndarray:
    """One row of band keys per set of words (one character each), all at once: no Python loop per word."""
    if not word_sets:
        return np.empty((0, _BANDS), dtype=np.uint64)
    word_sets = [s or "\0" for s in word_sets]
    lengths = np.fromiter(map(len, word_sets), dtype=np.int64, count=len(word_sets))
    flat = np.frombuffer("".join(word_sets).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    sig = np.empty((len(word_sets), _BANDS * _ROWS), dtype=np.uint64)
    for k in range(_BANDS * _ROWS):
        sig[:, k] = np.minimum.reduceat(((flat * _A[k] + _B[k]) % _PRIME) & 0xFFFFFFFF, starts)
    rows = sig.reshape(len(word_sets), _BANDS, _ROWS)
    keys = rows[:, :, 0] * np.uint64(1_000_003) + rows[:, :, 1]
    return (keys << np.uint64(4)) | np.arange(_BANDS, dtype=np.uint64)  # the band mixed in: one bucket table for all


class NearDuplicates:
    """Feed questions in order; each is compared with the earlier ones kept. The first one stays.

    A band bucket that fills up (BUCKET_CAP questions) holds words that most questions share,
    such as the domain's own words: it is set aside, as the pairs it would add are almost never
    duplicates and crowd out the ones that are. On 100k questions (bench/bench_filter.py) this
    misses 4 near-duplicates in 8,900 where comparing every member missed 41, in half the time.
    Memory per kept question: its word string, its label and one bucket entry per band.
    """

    BUCKET_CAP = 16

    def __init__(self, threshold: float = ROUGE_L_THRESHOLD, max_candidates: int = 64):
        self.threshold = threshold
        self.max_candidates = max_candidates
        self.exact: dict[str, int] = {}
        self.buckets: dict[int, int | list[int]] = {}  # band key (band mixed in) -> kept index or indexes
        self.kept_words: list[str] = []
        self.kept_labels: list[str] = []

    def check(self, words: str, keys: list[int], label: str) -> str | None:
        """keys: the question's band keys from dedup_keys, each with its band mixed in."""
        if (idx := self.exact.get(words)) is not None:
            return f"same question as {self.kept_labels[idx]} (numbers aside)"
        hits = list(map(self.buckets.get, keys))
        candidates = []
        for hit in hits:
            if type(hit) is int:
                candidates.append(hit)
            elif hit is not None and len(hit) < self.BUCKET_CAP:
                candidates += hit
        if candidates:
            candidates = list(dict.fromkeys(candidates))[:self.max_candidates]
            # Indel's normalized similarity is 2*LCS/(len a + len b): ROUGE-L F, all candidates in one call
            best = process.extractOne(words, [self.kept_words[i] for i in candidates], scorer=Indel.normalized_similarity,
                                      score_cutoff=self.threshold)
            if best is not None:
                return f"near-duplicate of {self.kept_labels[candidates[best[2]]]} (ROUGE-L {best[1]:.2f})"
        idx = len(self.kept_words)
        self.kept_words.append(words)
        self.kept_labels.append(label)
        self.exact[words] = idx
        for key, hit in zip(keys, hits):
            if hit is None:
                self.buckets[key] = idx  # most buckets hold one question: no list for them
            elif type(hit) is int:
                self.buckets[key] = [hit, idx]
            elif len(hit) < self.BUCKET_CAP:
                hit.append(idx)
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
