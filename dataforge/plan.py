"""A domain's plan: a topic tree the model writes once (sub-topics -> concrete situations), and the briefs
drawn from it so that no two requests ask for the same problem until every combination has been asked.

A small model given the same brief writes the same problem, names and numbers aside; three notes and three
templates turning in step made at most nine briefs. A brief here is leaf x difficulty x template x who asks x
the kind of quantity x the numbers, each slot taking the least-used values next (DeepFabric's tree, NeMo
Data Designer's per-record attributes). The plan is a JSON file in the run (plan_<domain>.json), meant to
be read and edited:

    {"domain": "Coffee shop", "notes": "prices, orders", "source": "model",
     "tree": {"prices": ["a seasonal menu price rise", ...], "orders": [...]},
     "askers": ["the owner", "a barista", ...], "quantities": [...], "numbers": [...],
     "retired": {"prices / a seasonal menu price rise": "4 of 5 samples near-duplicates"}, "weights": {}}

A leaf is "sub-topic / situation". `retired` leaves get no more briefs; `weights` (default 1) lower a leaf
reviewers dropped (generate.py --feedback).
"""

import itertools
import json
import math
import random
import re
from collections import Counter
from pathlib import Path

from dataforge import UserError
from dataforge.runs import write_atomic
from dataforge.schema import PLAN_FIELDS

SAMPLES_PER_LEAF = 3  # a few samples per leaf: the tree grows with the samples asked for
TREE_FROM = 20  # fewer samples: the notes' leaves and the attributes keep every brief different; no tree asked for
MAX_SUBTOPICS, MAX_SITUATIONS = 12, 15  # beyond 180 leaves the attributes carry the variety
PLAN_ATTEMPTS = 2  # a plan reply that cannot be used is asked once more, then the notes alone make the plan
ASKERS = ["the owner", "a customer", "a new employee", "a manager", "a supplier", "a student on placement"]
QUANTITIES = ["a rate (per hour, per unit)", "a percent change or discount", "fractions of a whole",
              "a unit conversion", "a ratio or proportion", "a total over several steps"]
NUMBERS = ["whole numbers", "decimals such as prices or measures", "large amounts in the thousands"]
ATTRIBUTES = ("asker", "quantity", "numbers")  # the plan's lists, by the key a brief records them under
LIST_OF = {"asker": "askers", "quantity": "quantities", "numbers": "numbers"}
RETIRE_AFTER, RETIRE_SHARE = 4, 0.6  # a leaf with at least 4 outcomes, 60% failed or near-duplicate, is retired


def tree_size(samples: int, notes: list[str]) -> tuple[int, int]:
    """(sub-topics, situations per sub-topic) for a run of `samples`: about SAMPLES_PER_LEAF samples a leaf.
    The notes are the sub-topics when there are some."""
    leaves = max(1, math.ceil(samples / SAMPLES_PER_LEAF))
    subtopics = len(notes) or min(MAX_SUBTOPICS, max(1, round(math.sqrt(leaves))))
    return subtopics, min(MAX_SITUATIONS, max(1, math.ceil(leaves / subtopics)))


def needs_model(samples: int, notes: list[str]) -> bool:
    """Does the model have leaves to add? Not when the notes already give a leaf per few samples, nor for
    a handful of samples (a tree would cost a request and add little)."""
    return samples >= TREE_FROM and math.ceil(samples / SAMPLES_PER_LEAF) > max(1, len(notes))


def notes_plan(domain: str, notes: list[str], source: str = "notes") -> dict:
    """The plan the notes alone make: one leaf per note (or the domain itself)."""
    return {"domain": domain, "notes": ", ".join(notes), "source": source,
            "tree": {note: [] for note in notes} or {domain: []},
            "askers": list(ASKERS), "quantities": list(QUANTITIES), "numbers": list(NUMBERS), "retired": {}, "weights": {}}


def plan_schema(subtopics: int, situations: int) -> dict:
    """What the plan request asks for: sub-topics, each with its situations, and the people of the domain."""
    text = {"type": "string", "minLength": 3, "maxLength": 100}
    return {"type": "object", "properties": {
        "subtopics": {"type": "array", "minItems": subtopics, "maxItems": subtopics, "items": {
            "type": "object", "properties": {"name": text, "situations": {
                "type": "array", "items": text, "minItems": situations, "maxItems": situations}},
            "required": ["name", "situations"]}},
        "people": {"type": "array", "items": text, "minItems": 3, "maxItems": 8}},
        "required": ["subtopics", "people"]}


def plan_messages(domain: str, notes: list[str], subtopics: int, situations: int) -> list[dict]:
    given = (f"Use exactly these sub-topics, in this order: {'; '.join(notes)}." if notes
             else f"Choose {subtopics} different sub-topics of the domain.")
    return [{"role": "system", "content": "You plan varied training data: many different situations, none alike."},
            {"role": "user", "content": f"""Domain: {domain}
{given}
For each sub-topic, list {situations} concrete, different situations in which someone would do arithmetic
(a few words each, like "splitting a catering order between two shifts"). No two situations alike.
Also list 3 to 8 kinds of people in this domain who could be asking (like "the head baker").
Reply with the JSON object only."""}]


def tidy(text) -> str:
    """A situation or a person as a prompt can use it: one line, no list numbering ('2. ...'), '' when it has no
    word (small models fill a list with '\n5.' and the like)."""
    text = re.sub(r"^\W*\d+[.)]\s*", "", " ".join(str(text).split())).strip(" ,;:-\"'")
    return text if re.search(r"[A-Za-z]{3}", text) else ""


def plan_from_reply(text: str, domain: str, notes: list[str]) -> dict:
    """The plan a reply describes; ValueError saying what is wrong with it."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON: {e.msg} at position {e.pos}") from None
    subs = data.get("subtopics") if isinstance(data, dict) else None
    if not isinstance(subs, list) or not subs:
        raise ValueError("no 'subtopics' list")
    tree = {}
    for i, sub in enumerate(subs):
        name = notes[i] if i < len(notes) else tidy(sub.get("name", "")) if isinstance(sub, dict) else ""
        situations = sub.get("situations") if isinstance(sub, dict) else None
        if not name or not isinstance(situations, list):
            raise ValueError(f"sub-topic {i + 1} has no name or no 'situations' list")
        own = tree.setdefault(name, [])
        own += [t for t in dict.fromkeys(map(tidy, situations)) if t and t not in own]
    if sum(map(len, tree.values())) < 2:
        raise ValueError("fewer than 2 situations in all")
    people = [t for t in dict.fromkeys(map(tidy, data.get("people") or [])) if t] if isinstance(data.get("people"), list) else []
    return {**notes_plan(domain, notes, "model"), "tree": tree, "askers": people or list(ASKERS)}


def leaves(plan: dict, live_only: bool = True) -> list[str]:
    """'sub-topic / situation' for each situation (the sub-topic alone when it has none), retired ones left out."""
    out = [f"{sub} / {s}" if s else sub for sub, situations in plan["tree"].items() for s in situations or [""]]
    return [leaf for leaf in out if not (live_only and leaf in plan.get("retired", {}))]


def check_plan(plan, where: str) -> dict:
    """A plan read from a file (perhaps edited by hand), or a UserError naming the file and the problem."""
    fix = f"; fix {where} (see dataforge/plan.py for its shape) or pass --plan off"
    if not isinstance(plan, dict) or not isinstance(plan.get("tree"), dict) or not plan["tree"]:
        raise UserError(f"{where}: a plan needs a 'tree' object of sub-topic -> list of situations{fix}")
    for sub, situations in plan["tree"].items():
        if not isinstance(situations, list) or not all(isinstance(s, str) and s.strip() for s in situations):
            raise UserError(f"{where}: sub-topic {sub!r}: its situations must be a list of non-empty strings{fix}")
    for key in LIST_OF.values():
        values = plan.setdefault(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise UserError(f"{where}: {key!r} must be a list of strings{fix}")
    plan.setdefault("retired", {}), plan.setdefault("weights", {})
    if not isinstance(plan["retired"], dict) or not isinstance(plan["weights"], dict):
        raise UserError(f"{where}: 'retired' and 'weights' must be objects keyed by leaf{fix}")
    if not leaves(plan):
        raise UserError(f"{where}: every leaf is retired; un-retire one{fix}")
    return plan


def read_plan(path: Path) -> dict:
    try:
        return check_plan(json.loads(Path(path).read_text(encoding="utf-8")), str(path))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); fix it or pass --plan off") from None
    except OSError as e:
        raise UserError(f"--plan {path}: {e.strerror}") from None


def plan_text(plan: dict) -> str:
    """The file's text: indented, a situation a line, so it reads and edits as a list."""
    return json.dumps(plan, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- briefs

def combination(record: dict) -> dict | None:
    """The brief a record was written from (its `plan` field), or None."""
    brief = record.get("plan")
    return brief if isinstance(brief, dict) and all(isinstance(brief.get(k), str) for k in PLAN_FIELDS) else None


def brief_counts(briefs) -> Counter:
    """How often each leaf, each (leaf, attribute, value) and each (attribute, value) was used."""
    used = Counter()
    for b in briefs:
        used[b["leaf"]] += 1
        used[tuple(b.get(k) for k in PLAN_FIELDS)] += 1  # the whole combination
        for key in PLAN_FIELDS[1:]:
            used[(key, b.get(key))] += 1
            used[(b["leaf"], key, b.get(key))] += 1
    return used


def next_briefs(plan: dict, slots: list[int], used: Counter, choices: dict, seed) -> dict[int, dict]:
    """A brief for each slot, in order: the least-used live leaf (a reviewer's weight lowers one), then for
    each attribute the value least used with that leaf, then overall; when that whole combination was asked
    already, the least-used combination of that leaf not asked yet (if any); ties broken by a random.Random seeded
    by --seed, the domain and the slot, so the same run state gives the same briefs. `choices` holds the
    difficulty (listed once per weight) and template lists; `used` (brief_counts of what is written) is
    updated, so a session that resumes goes on balancing where the last one stopped."""
    live, weights = leaves(plan), plan.get("weights", {})
    options = {**choices, **{key: plan[LIST_OF[key]] or [""] for key in ATTRIBUTES}}
    out = {}
    for slot in slots:
        rng = random.Random(f"{seed}|{plan['domain']}|{slot}")
        leaf = min(live, key=lambda l: (used[l] / _weight(weights, l), rng.random()))
        shares = {key: Counter(values) for key, values in options.items()}  # medium=2: medium wanted twice as often
        cost = lambda key, v: (used[(leaf, key, v)] / shares[key][v], used[(key, v)] / shares[key][v])
        brief = {"leaf": leaf, **{key: min(share, key=lambda v: (*cost(key, v), rng.random())) for key, share in shares.items()}}
        if used[tuple(brief.get(k) for k in PLAN_FIELDS)]:  # asked before: the best combination not asked yet
            combos = (dict(zip(shares, values)) for values in itertools.product(*shares.values()))
            brief = {"leaf": leaf, **min(combos, key=lambda c: (used[tuple({"leaf": leaf, **c}.get(k) for k in PLAN_FIELDS)],
                                                               tuple(map(sum, zip(*(cost(k, v) for k, v in c.items())))),
                                                               rng.random()))}
        used.update(brief_counts([brief]))
        out[slot] = brief
    return out


def _weight(weights: dict, leaf: str) -> float:
    w = weights.get(leaf, 1)
    return w if isinstance(w, (int, float)) and w > 0 else 1


def leaves_to_retire(plan: dict, outcomes: dict[str, Counter]) -> dict[str, str]:
    """Leaves whose samples keep failing or coming out as near-duplicates: {leaf: why}. The last live
    leaf is never retired (something must be asked)."""
    out, live = {}, leaves(plan)
    for leaf in live:
        seen = outcomes.get(leaf, Counter())
        total, bad = sum(seen.values()), seen["failed"] + seen["duplicate"]
        if total >= RETIRE_AFTER and bad >= RETIRE_SHARE * total and len(live) - len(out) > 1:
            out[leaf] = f"{seen['failed']} failed and {seen['duplicate']} near-duplicates of {total} samples"
    return out


def feedback_weights(plan: dict, dropped: Counter) -> dict[str, float]:
    """--feedback: a leaf reviewers dropped n samples of gets weight 1/(1+n), so it is asked less often."""
    return {leaf: round(1 / (1 + n), 3) for leaf, n in dropped.items() if leaf in leaves(plan, live_only=False)}


class DomainPlan:
    """A domain's plan in a run: its file, the balance of the briefs asked so far (from every sample written,
    valid or failed, so a resumed run goes on where the last session stopped) and what each leaf's samples
    came to, for leaves_to_retire."""

    def __init__(self, plan: dict, path: Path, written: list[dict], failed: list[dict]):
        from dataforge.dedup import NearDuplicates  # here: numpy and rapidfuzz load only when a plan is used

        self.plan, self.path = plan, Path(path)
        self.used = brief_counts(b for r in written + failed if (b := combination(r)))
        self.outcomes: dict[str, Counter] = {}
        self.seen = NearDuplicates()
        for record in written:
            self.saw(record, True)
        for record in failed:
            self.saw(record, False)

    def saw(self, record: dict, ok: bool) -> None:
        """Count a sample's outcome for its leaf: valid, failed, or a near-duplicate of one already written."""
        from dataforge.dedup import dedup_keys

        if (brief := combination(record)) is None:
            return
        outcome = "failed"
        if ok:
            words, keys = dedup_keys([str(record.get("question", ""))])
            outcome = "valid" if self.seen.check(words[0], list(keys[0]), str(record.get("id"))) is None else "duplicate"
        self.outcomes.setdefault(brief["leaf"], Counter())[outcome] += 1

    def briefs(self, slots: list[int], choices: dict, seed) -> dict[int, dict]:
        return next_briefs(self.plan, slots, self.used, choices, seed)

    def review(self) -> dict[str, str]:
        """Retire the leaves that keep failing or repeating; the file says which, and why. Returns them."""
        retire = leaves_to_retire(self.plan, self.outcomes)
        if retire:
            self.plan["retired"].update(retire)
            self.save()
        return retire

    def save(self) -> None:
        write_atomic(self.path, plan_text(self.plan))
