"""The sample: one pydantic model, and the JSON schema backends are asked to follow."""

import re
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SAMPLE_FIELDS = ("question", "reasoning", "answer", "difficulty", "domain", "num_steps")
DIFFICULTIES = ("easy", "medium", "hard")
# A record's `plan` field (generate.py with a plan): the brief it was asked from, kept by every stage as it is
# (records are kept whole, like `template` and `subtopic`; the model never writes it, so Sample has no such field)
PLAN_FIELDS = ("leaf", "difficulty", "template", "asker", "quantity", "numbers")



class Bound(NamedTuple):
    ask_min: int  # generation: what the JSON schema and the grammar ask a model for
    ask_max: int  # (keeps a looping small model from writing forever)
    read_max: int  # the filter and the verifier: any length a real solution has, up to a hostile-input limit


# The one table of bounds: used by Sample (read_max), generation_schema and GRAMMAR_PATTERNS (ask_*), and the
# verifier (arithmetic reads steps up to read_max). Real solutions run to 34 steps and 275-character steps;
# the limits keep a hostile sample's check under a second.
BOUNDS = {
    "question": Bound(20, 600, 4000),
    "step": Bound(5, 240, 1000),  # the grammar splits ask_max at the '=': half on each side
    "steps": Bound(1, 8, 64),
    "answer": Bound(1, 40, 200),
    "domain": Bound(0, 80, 200),
}
MAX_STEP_CHARS = BOUNDS["step"].read_max


class Sample(BaseModel):
    """A math word problem with step-by-step reasoning. Only these fields are kept: a model's own "score",
    "flags" or "judge_model" must not pass for DataForge's (a record's id and the like live outside the model)."""

    model_config = ConfigDict(extra="ignore")

    question: str = Field(min_length=1, max_length=BOUNDS["question"].read_max)
    reasoning: list[str] = Field(min_length=1, max_length=BOUNDS["steps"].read_max)
    answer: str = Field(min_length=1, max_length=BOUNDS["answer"].read_max)
    difficulty: Literal[DIFFICULTIES]  # the same as Literal["easy", "medium", "hard"]
    domain: str = Field(min_length=1, max_length=BOUNDS["domain"].read_max)
    num_steps: int

    @field_validator("reasoning")
    @classmethod
    def steps_are_equations(cls, steps: list[str]) -> list[str]:
        for i, step in enumerate(steps):
            if "=" not in step:
                raise ValueError(f"step {i + 1} has no '=': {step[:80]!r}")
            if len(step) > MAX_STEP_CHARS:
                raise ValueError(f"step {i + 1} is longer than {MAX_STEP_CHARS} characters")
        return steps

    @model_validator(mode="after")
    def num_steps_matches(self) -> "Sample":
        if self.num_steps != len(self.reasoning):
            raise ValueError(f"num_steps is {self.num_steps} but reasoning has {len(self.reasoning)} steps")
        return self


def validation_problems(error: ValidationError) -> list[str]:
    """Pydantic's errors as short lines: 'reasoning.2: step 3 has no '=''."""
    out = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or "sample"
        out.append(f"{where}: {re.sub(r'^Value error, ', '', e['msg'])}")
    return out


# For backends that turn the schema into a grammar (llama.cpp, Ollama): patterns make the format
# unbreakable. No control characters, quotes or backslashes inside strings (a raw newline or a bad
# escape is invalid JSON); every step has an '='; the answer has a digit. Bounded, so a looping
# model stops. What the model writes is otherwise free.
_NOT = r'\x00-\x1f"\\'  # characters a string may not hold: control characters, quote, backslash
_Q, _S, _A, _D = BOUNDS["question"], BOUNDS["step"].ask_max // 2, BOUNDS["answer"].ask_max // 2, BOUNDS["domain"]
GRAMMAR_PATTERNS = {
    "question": f"^[^{_NOT}]{{{_Q.ask_min},{_Q.ask_max}}}$",
    "step": f"^[^{_NOT}=]{{1,{_S}}}=[^{_NOT}]{{1,{_S}}}$",
    "answer": f"^[^{_NOT}0-9]{{0,{_A}}}[0-9][^{_NOT}]{{0,{_A}}}$",
    "domain": f"^[^{_NOT}]{{{_D.ask_min},{_D.ask_max}}}$",
}


def sample_problem(record: dict) -> str | None:
    """Why a record is not a sample a stage can use (the schema's first complaint), or None."""
    try:
        Sample.model_validate(record)
    except ValidationError as e:
        return "not a sample: " + validation_problems(e)[0]
    return None


def generation_schema(patterns: bool = False) -> dict:
    """The JSON schema sent to backends as structured output: the fields a model writes.

    Plain JSON Schema (no $defs) so Ollama, OpenAI-compatible servers and llama.cpp's grammar
    converter all accept it; `patterns` (for backends that enforce the schema with a grammar) adds
    GRAMMAR_PATTERNS. The pydantic model checks the rest.
    """
    def text(field: str) -> dict:
        if patterns:
            return {"type": "string", "pattern": GRAMMAR_PATTERNS[field]}
        bound = BOUNDS[field]
        return {"type": "string", **({"minLength": bound.ask_min} if bound.ask_min else {}), "maxLength": bound.ask_max}

    return {
        "type": "object",
        "properties": {
            "question": text("question"),
            "reasoning": {
                "type": "array",
                "items": text("step"),
                "minItems": BOUNDS["steps"].ask_min,
                "maxItems": BOUNDS["steps"].ask_max,
            },
            "answer": text("answer"),
            "difficulty": {"type": "string", "enum": list(DIFFICULTIES)},
            "domain": text("domain"),
            "num_steps": {"type": "integer"},
        },
        "required": list(SAMPLE_FIELDS),
        "additionalProperties": False,
    }
