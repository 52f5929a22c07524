"""How varied a domain's questions are, measured once here and shown by generate.py's summary, run.json,
the report and the dataset card.

- distinct: questions left after near-duplicate removal (dataforge.dedup, numbers masked: the same story
  with new numbers counts once)
- distinct_2grams: distinct word pairs / all word pairs (numbers masked): 1.0 when no pair repeats
- vendi: the Vendi score (Friedman & Dieng 2023) of the questions' TF-IDF vectors: exp of the entropy of the
  similarity matrix's eigenvalues, "the effective number of different questions": 1 when all are alike,
  n when no two share a word. No model weights: a paraphrase with new words counts as different.
- leaves: plan leaves with at least one question, of all leaves (the coverage picture draws them)
- answer_magnitudes, step_counts: histograms (orders of magnitude of the answers; steps per solution) and their
  evenness, the entropy over its maximum: 0 when every sample is alike, 1 when spread evenly.
"""

import html
import math
from collections import Counter

from dataforge.arithmetic import parse_number

# numpy and dataforge.dedup (rapidfuzz) are imported where measured: the report and the card, which import this
# module in every stage, only read measures that generate.py wrote

VENDI_SAMPLE = 2000  # more questions than this: the Vendi score of an even sample of them (the matrix is n x n)


def distinct_questions(questions: list[str]) -> int:
    """Questions left once near-duplicates (numbers aside) are removed."""
    from dataforge.dedup import NearDuplicates, dedup_keys

    words, keys = dedup_keys(questions)
    seen = NearDuplicates()
    return sum(seen.check(w, list(k), str(i)) is None for i, (w, k) in enumerate(zip(words, keys)))


def distinct_ngrams(questions: list[str], n: int = 2) -> float:
    """Distinct n-grams over all n-grams of the questions (numbers masked); 0.0 for no n-grams."""
    from dataforge.dedup import masked_tokens

    grams = [tuple(t[i:i + n]) for t in map(masked_tokens, questions) for i in range(len(t) - n + 1)]
    return round(len(set(grams)) / len(grams), 3) if grams else 0.0


def tfidf(questions: list[str]):
    """Rows of unit length: each question's TF-IDF vector over masked word tokens (smooth idf, as scikit-learn)."""
    import numpy as np

    from dataforge.dedup import masked_tokens

    docs = [Counter(masked_tokens(q)) for q in questions]
    vocab = {w: i for i, w in enumerate(sorted({w for d in docs for w in d}))}
    x = np.zeros((len(docs), len(vocab)))
    for row, d in enumerate(docs):
        for w, c in d.items():
            x[row, vocab[w]] = c
    idf = np.log((1 + len(docs)) / (1 + (x > 0).sum(axis=0))) + 1
    x *= idf
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def vendi_score(questions: list[str]) -> float:
    """exp(-sum l log l) over the eigenvalues l of K/n, K the questions' cosine similarities."""
    import numpy as np

    if len(questions) > VENDI_SAMPLE:
        step = len(questions) / VENDI_SAMPLE
        questions = [questions[int(i * step)] for i in range(VENDI_SAMPLE)]
    if not questions:
        return 0.0
    x = tfidf(questions)
    empty = ~x.any(axis=1)
    x[empty, 0:1] = 1.0 if x.shape[1] else 0  # a question with no words is like every other such one
    small = x @ x.T if x.shape[0] <= x.shape[1] else x.T @ x  # the same non-zero eigenvalues, the smaller matrix
    eig = np.clip(np.linalg.eigvalsh(small / len(questions)), 0, None)
    eig = eig[eig > 1e-12]
    return round(float(np.exp(-(eig * np.log(eig)).sum())), 2)


def spread(values: list) -> dict:
    """{"histogram": {value: count}, "evenness": entropy / log(bins)}; evenness 0.0 for one bin (or none)."""
    counts = Counter(values)
    total = sum(counts.values())
    entropy = -sum(c / total * math.log(c / total) for c in counts.values()) if total else 0.0
    evenness = entropy / math.log(len(counts)) if len(counts) > 1 else 0.0
    return {"histogram": {str(k): v for k, v in sorted(counts.items())}, "evenness": round(evenness, 3)}


def magnitude(answer: str) -> int | None:
    """The order of magnitude of an answer's number: '$1,250' -> 3, '0.5 kg' -> -1; None without a number."""
    quantity, _ = parse_number(str(answer))
    if quantity is None:
        return None
    value = abs(float(quantity.value))
    return math.floor(math.log10(value)) if value else 0


def measure(samples: list[dict], plan_leaves: list[str] | None = None) -> dict:
    """Every measure of a domain's samples (valid ones: question, answer, num_steps, plan)."""
    questions = [str(s.get("question", "")) for s in samples]
    used = Counter(s["plan"]["leaf"] for s in samples if isinstance(s.get("plan"), dict)
                   and isinstance(s["plan"].get("leaf"), str))
    out = {"questions": len(questions), "distinct": distinct_questions(questions),
           "distinct_2grams": distinct_ngrams(questions), "vendi": vendi_score(questions),
           "answer_magnitudes": spread([m for s in samples if (m := magnitude(s.get("answer", ""))) is not None]),
           "step_counts": spread([len(s["reasoning"]) for s in samples if isinstance(s.get("reasoning"), list)])}
    if plan_leaves:
        out["leaves"] = {leaf: used.get(leaf, 0) for leaf in plan_leaves}
        out["leaves_covered"] = sum(1 for leaf in plan_leaves if used.get(leaf))
    return out


# ---------------------------------------------------------------- shown in the summary, report and card

def summary_line(v: dict) -> str:
    """'distinct 187 of 200, distinct 2-grams 0.61, Vendi 143.2, leaves 67/67, answer spread 0.71, steps spread 0.52'"""
    leaves = f", leaves {v['leaves_covered']}/{len(v['leaves'])}" if "leaves" in v else ""
    return (f"distinct {v['distinct']} of {v['questions']}, distinct 2-grams {v['distinct_2grams']}, Vendi {v['vendi']}"
            f"{leaves}, answer spread {v['answer_magnitudes']['evenness']}, steps spread {v['step_counts']['evenness']}")


def markdown_lines(variety: dict) -> list[str]:
    """The report's 'Variety' section: a line per domain."""
    if not variety:
        return []
    return ["", "## Variety (valid questions)", "", *(f"- {d}: {summary_line(v)}" for d, v in variety.items())]


def card_line(variety: dict) -> list[str]:
    """The dataset card's variety line (one per domain), or none."""
    return [f"- Variety of {d}'s generated questions: {summary_line(v)}" for d, v in variety.items()]


def coverage_svg(leaf_counts: dict, retired=(), cell: int = 16, per_row: int = 30) -> str:
    """One square per plan leaf, darker the more samples it has; white: none yet; red border: retired."""
    top = max(leaf_counts.values(), default=0) or 1
    rows = math.ceil(len(leaf_counts) / per_row)
    cells = []
    for i, (leaf, n) in enumerate(leaf_counts.items()):
        x, y = (i % per_row) * cell, (i // per_row) * cell
        shade = 255 - round(200 * n / top) if n else 255
        stroke = "#c00" if leaf in retired else "#999"
        cells.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="rgb({shade},{shade},255)" '
                     f'stroke="{stroke}"><title>{html.escape(leaf)}: {n}</title></rect>')
    return (f'<svg width="{per_row * cell}" height="{rows * cell}" role="img" aria-label="plan coverage">'
            + "".join(cells) + "</svg>")


def html_section(variety: dict) -> str:
    """The report's variety section: the measures per domain, and the coverage of each plan's leaves."""
    if not variety:
        return ""
    e = html.escape
    parts = ['<h2>Variety</h2><section id="variety">']
    for domain, v in variety.items():
        parts.append(f"<h3>{e(domain)}</h3><p>{e(summary_line(v))}</p>")
        if v.get("leaves"):
            parts.append(f"<p>Plan coverage ({v['leaves_covered']} of {len(v['leaves'])} leaves; darker: more samples):</p>"
                         + coverage_svg(v["leaves"], v.get("retired", ())))
    return "".join(parts) + "</section>"
