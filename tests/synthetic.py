"""Many realistic, distinct samples from GSM8K, with true near-duplicates among them (bench/bench_filter.py,
tests of large inputs): each GSM8K solution behind a made-up context sentence, plus 10% near-duplicates (an
earlier sample with new numbers, half of them also reworded), marked with `bench_duplicate_of`."""

import random

ROUGE_L_THRESHOLD = 0.7  # as dataforge.dedup; not imported here, to keep this process small

SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vo", "zu", "bel", "dor", "fen", "gri", "hal", "jin", "kor", "lum", "mor"]


def synthesize(n: int, seed: int = 0) -> list[dict]:
    from dataforge.gsm8k import gsm8k_samples

    rng = random.Random(seed)
    base = gsm8k_samples()
    out, originals = [], []
    for i in range(n):
        if originals and rng.random() < 0.1:  # a near-duplicate of an earlier sample: numbers changed, half also reworded
            original = rng.choice(originals)
            s = dict(original)
            s["question"] = s["question"].replace("1", "7").replace("2", "8")
            if rng.random() < 0.5:
                s["question"] = reword(s["question"], rng)
            if rouge_l(s["question"], original["question"]) >= ROUGE_L_THRESHOLD:  # else it is just another sample
                s["bench_duplicate_of"] = original["id"]
        else:
            s = dict(rng.choice(base))
            words = " ".join("".join(rng.choices(SYLLABLES, k=3)) for _ in range(30))
            s["question"] = f"At {words}: {s['question']}"
            originals.append(s)
        s["id"] = f"bench-{i:06d}"
        out.append(s)
    return out


def reword(question: str, rng: random.Random) -> str:
    """Drop, replace or add 5-30% of the words, the way a model retells a story."""
    rate, out = rng.uniform(0.05, 0.3), []
    for word in question.split():
        r = rng.random()
        if r < rate / 3:
            continue
        out.append("".join(rng.choices(SYLLABLES, k=3)) if r < 2 * rate / 3 else word)
        if 2 * rate / 3 <= r < rate:
            out.append("".join(rng.choices(SYLLABLES, k=3)))
    return " ".join(out)


def rouge_l(a: str, b: str) -> float:
    from rapidfuzz.distance import Indel

    from dataforge.dedup import dedup_keys

    (wa, wb), _ = dedup_keys([a, b])
    return Indel.normalized_similarity(wa, wb)
