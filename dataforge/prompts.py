"""Every prompt DataForge sends, as readable text: three generation templates, the repair
hint, the step repairs, the judge rubric and the re-solve prompt."""

import random

from dataforge.schema import DIFFICULTIES

TEMPLATES = {
    "detailed": """You write math word problems for training data.
Domain: {domain}
Domain notes (use them): {notes}
Sub-topic for this problem: {subtopic}
Difficulty: {difficulty} ({difficulty_hint})
Use the name {name} and numbers in the range {number_range}.

Write ONE realistic word problem set in this domain, then solve it step by step.
Rules:
- "question": the problem, ending with a question. Do not show the working or the answer in it.
- "reasoning": a list of steps; each step is one explicit equation with the result, like "12 * 3 = 36".
  Use only numbers from the question or from earlier steps. Check every calculation.
- "answer": the final number with its unit, like "$1,250" or "36 hours"; it equals the last step's result.
- "difficulty": "{difficulty}"; "domain": "{domain}"; "num_steps": the number of steps.
{angle}{avoid}Reply with the JSON object only.""",
    "conversational": """Hi! I'm building a practice set about {domain} ({notes}).
Could you write me a {difficulty} math word problem about {subtopic}? A character called {name} would be nice,
with numbers around {number_range}.
Please solve it in short steps, each one an equation such as "45 / 5 = 9", and give the final answer with units
(it must match your last step). Keep the answer out of the question.
{angle}{avoid}Answer as a JSON object with question, reasoning (list of steps), answer, difficulty, domain and num_steps.""",
    "minimal": """JSON math word problem. domain={domain}; notes={notes}; topic={subtopic}; difficulty={difficulty};
name={name}; numbers={number_range}. Steps are equations "a op b = c". Answer = last result, with units.
{angle}{avoid}""",
}
TEMPLATE_NAMES = tuple(TEMPLATES)

SYSTEM = "You are a careful math teacher who writes correct, varied word problems and checks every calculation."

DIFFICULTY_HINTS = {"easy": "1-2 steps, small whole numbers", "medium": "3-4 steps, may use percents or rates",
                    "hard": "5-7 steps, mixes several operations"}
NUMBER_RANGES = {"easy": ["2 to 20", "5 to 50", "10 to 100"], "medium": ["10 to 500", "1.5 to 80", "100 to 5,000"],
                 "hard": ["50 to 10,000", "0.25 to 400", "1,000 to 250,000"]}
assert list(DIFFICULTY_HINTS) == list(NUMBER_RANGES) == list(DIFFICULTIES), "one entry per schema.DIFFICULTIES"
NAMES = ["Aisha", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Gustavo", "Hana", "Ivan", "Jia", "Kofi", "Lucia",
         "Mateo", "Nadia", "Oskar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Yara", "Zeke"]

REPAIR_HINT = """Your previous reply could not be used: {error}
Reply again with one JSON object that has exactly these fields: question, reasoning (list of equation steps,
each containing '='), answer (a number with units), difficulty, domain, num_steps."""


# ---------------------------------------------------------------- step repairs (generate.py --repairs)
# A reply that parses but fails a filter check at a known step is sent back with the checker's own
# message, then what to keep: models fix a located error far better than an "are you sure?" (Tyen et al.
# 2024; Huang et al. 2024). What follows the checker's message, per check that names a step.

STEP_FIXES = {
    "arithmetic": "{keep}redo the solution from step {step}, and make the answer equal the last step's result.",
    "consistency": "keep the steps as they are and give the last step's result as the answer, with its unit.",
    "quality": "{keep}rewrite the solution from step {step}: one new equation per step, no leftovers.",
}
STEP_FIX_OTHER = "{keep}redo the solution from step {step}."  # a check with a step not listed above
STEP_FIX_END = "\nThe question stays as it is. Reply with the whole corrected JSON object."


def step_fix(check: str, error: str, step: int) -> str:
    """The user turn that asks for one repair: step is 1-based; steps before it are to be kept."""
    keep = "" if step == 1 else "Keep step 1 as it is, " if step == 2 else f"Keep steps 1\u2013{step - 1} as they are, "
    then = STEP_FIXES.get(check, STEP_FIX_OTHER).format(keep=keep, step=step)
    return f"{error[:1].upper()}{error[1:]}. {then[:1].upper()}{then[1:]}{STEP_FIX_END}"


def subtopics(domain: str, notes: str) -> list[str]:
    """What one request may be about: each comma-separated note, else the domain itself."""
    return [s.strip() for s in notes.split(",") if s.strip()] or [domain]


def clip(text: str, limit: int) -> str:
    """text cut to at most limit characters at a space, marked '…': a number cut in half ($31 for $313)
    would tell the model something false."""
    if len(text) <= limit:
        return text
    cut = text[:limit + 1].rsplit(None, 1)[0] if " " in text[:limit + 1] else text[:limit]
    return cut.rstrip(" ,;:") + "…"


def brief_angle(brief: dict | None) -> str:
    """What a plan's brief adds to a prompt besides its leaf (the sub-topic): who asks, the kind of quantity,
    the numbers. These change the problem itself, not only its surface. '' without a plan (--plan off)."""
    parts = [f"the problem is asked by {brief['asker']}" * bool(brief.get("asker")),
             f"its math is about {brief['quantity']}" * bool(brief.get("quantity")),
             f"use {brief['numbers']}" * bool(brief.get("numbers"))] if brief else []
    return f"Angle: {'; '.join(p for p in parts if p)}.\n" if any(parts) else ""  # a plan may empty a list


def generation_prompt(template: str, domain: str, notes: str, subtopic: str, difficulty: str, rng: random.Random,
                      recent_questions: list[str], feedback: dict | None = None, brief: dict | None = None) -> list[dict]:
    """The chat messages for one sample. Sub-topic, name and number range vary per request (and with a
    plan, the brief's angle), and recent questions are listed to avoid: near-duplicates are the main waste.
    Feedback from a human audit (generate.py --feedback) adds what reviewers dropped, and why, and what they kept."""
    avoid = ""
    if recent_questions:
        avoid = "Do not repeat or paraphrase these earlier problems:\n" + "".join(f"- {clip(q, 160)}\n" for q in recent_questions)
    if feedback and feedback.get("avoid"):
        avoid += "A reviewer rejected problems like these; do not write problems like them:\n" + "".join(
            f"- {clip(q, 160)}" + (f" (reviewer: {clip(c, 160)})" if c else "") + "\n" for q, c in feedback["avoid"])
    if feedback and feedback.get("examples"):
        avoid += "A reviewer approved these; match their quality, not their story:\n" + "".join(
            f"- {clip(q, 200)}\n" for q in feedback["examples"])
    text = TEMPLATES[template].format(
        domain=domain, notes=notes or "none", subtopic=subtopic, difficulty=difficulty,
        difficulty_hint=DIFFICULTY_HINTS[difficulty], name=rng.choice(NAMES),
        number_range=rng.choice(NUMBER_RANGES[difficulty]), avoid=avoid, angle=brief_angle(brief))
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]


# ---------------------------------------------------------------- scoring

RUBRIC_VERSION = "2026-12-01.1"  # a re-solve now replies with checked steps
RUBRIC = """You grade one math word problem written for training data. Score each criterion from 1 (bad) to 10 (excellent):
- correctness: every step's arithmetic is right and the final answer follows from the steps.
- clarity: the question is unambiguous and well written; the steps are easy to follow.
- domain_relevance: the problem is really about "{domain}".
- difficulty_match: the problem fits the labelled difficulty "{difficulty}".
- reasoning_quality: the steps are complete, in order, and use only given or derived numbers.
Give a one-sentence rationale. Reply with JSON only.

Question: {question}
Steps:
{steps}
Answer: {answer}"""

# The judge's criteria, one table: JUDGE_SCHEMA and score.JudgeScores ask for a sub-score for each, and
# judge.overall_score is their weighted mean (correctness counts most because a wrong sample is harmful).
SCORE_WEIGHTS = {"correctness": 0.35, "reasoning_quality": 0.2, "clarity": 0.15, "domain_relevance": 0.15,
                 "difficulty_match": 0.15}
RESOLVE_DISAGREE_CAP = 4.0  # a sample the judge cannot re-derive independently scores at most this

SUB_SCORES = list(range(1, 11))
JUDGE_SCHEMA = {  # an enum, not minimum/maximum: a grammar (Ollama, llama.cpp) enforces it, so any judge answers 1-10
    "type": "object",
    "properties": {**{k: {"type": "integer", "enum": SUB_SCORES} for k in SCORE_WEIGHTS},
                   "rationale": {"type": "string", "maxLength": 300}},
    "required": [*SCORE_WEIGHTS, "rationale"],
}

RESOLVE = """Solve this math word problem step by step. Each step is one explicit equation with its result, like
"12 * 3 = 36", using only numbers from the problem or earlier steps. Then give the final answer as a single number
(no units).

{question}"""
RESOLVE_SCHEMA = {
    "type": "object",
    "properties": {"steps": {"type": "array", "items": {"type": "string", "maxLength": 300}, "maxItems": 12},
                   "answer": {"type": "number"}},
    "required": ["steps", "answer"],
}
RESOLVE_WRONG_STEP = """Your step "{step}" is wrong: {problem}. Solve the problem again, checking every calculation.
Reply with the JSON object only."""


def judge_prompt(sample: dict) -> list[dict]:
    steps = "\n".join(f"{i + 1}. {s}" for i, s in enumerate(sample["reasoning"]))
    return [{"role": "user", "content": RUBRIC.format(domain=sample["domain"], difficulty=sample["difficulty"],
                                                      question=sample["question"], steps=steps, answer=sample["answer"])}]


def resolve_prompt(sample: dict, wrong: tuple[str, str, str] | None = None) -> list[dict]:
    """The re-solve; with `wrong` (the reply, its wrong step, the checker's message), the one request
    that asks again."""
    messages = [{"role": "user", "content": RESOLVE.format(question=sample["question"])}]
    if wrong:
        reply, step, problem = wrong
        messages += [{"role": "assistant", "content": reply},
                     {"role": "user", "content": RESOLVE_WRONG_STEP.format(step=step[:200], problem=problem)}]
    return messages
