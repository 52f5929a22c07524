"""The sample: one pydantic model, and the JSON schema backends are asked to follow."""

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SAMPLE_FIELDS = ("question", "reasoning", "answer", "difficulty", "domain", "num_steps")
DIFFICULTIES = ("easy", "medium", "hard")

# Bounds keep a looping small model from writing forever (the grammar stops it) and
# give the filter's "sane lengths" rule its numbers.
MAX_QUESTION_CHARS = 1200
MAX_STEP_CHARS = 400
MAX_STEPS = 12
MAX_ANSWER_CHARS = 80


class Sample(BaseModel):
    """A math word problem with step-by-step reasoning. Extra fields (id, score...) pass through."""

    model_config = ConfigDict(extra="allow")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    reasoning: list[str] = Field(min_length=1, max_length=MAX_STEPS)
    answer: str = Field(min_length=1, max_length=MAX_ANSWER_CHARS)
    difficulty: Literal["easy", "medium", "hard"]
    domain: str = Field(min_length=1, max_length=200)
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
GRAMMAR_PATTERNS = {
    "question": f"^[^{_NOT}]{{20,600}}$",
    "step": f"^[^{_NOT}=]{{1,120}}=[^{_NOT}]{{1,120}}$",
    "answer": f"^[^{_NOT}0-9]{{0,20}}[0-9][^{_NOT}]{{0,20}}$",
    "domain": f"^[^{_NOT}]{{0,80}}$",
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
    def text(field: str, **bounds) -> dict:
        return {"type": "string", "pattern": GRAMMAR_PATTERNS[field]} if patterns else {"type": "string", **bounds}

    return {
        "type": "object",
        "properties": {
            "question": text("question", minLength=20, maxLength=600),
            "reasoning": {
                "type": "array",
                "items": text("step", minLength=5, maxLength=200),
                "minItems": 1,
                "maxItems": 8,
            },
            "answer": text("answer", minLength=1, maxLength=40),
            "difficulty": {"type": "string", "enum": list(DIFFICULTIES)},
            "domain": text("domain", maxLength=80),
            "num_steps": {"type": "integer"},
        },
        "required": list(SAMPLE_FIELDS),
        "additionalProperties": False,
    }
