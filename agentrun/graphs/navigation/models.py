"""Navigation's config, inputs and result, and the city and task a pipeline's inputs name.

A run takes a `CityTask`, or the seeds and city settings to sample one (what a pipeline passes,
as text: the field types convert it, and an empty value takes the default). The same seeds and
settings always give the same city and task.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agentrun.agents.config import LOCAL_MODEL
from agentrun.errors import UsageError
from agentrun.graphs.base import WorkflowResult
from agentrun.graphs.navigation.city import CityConfig, CityTask, sample_tasks

Strategy = Literal["prep", "react", "ranked"]


class NavigationConfig(BaseModel):
    """Settings of a navigation run (PReP, the ReAct baseline, or PReP without the model)."""

    model_config = ConfigDict(extra="forbid")

    strategy: Strategy = "prep"
    model: str = LOCAL_MODEL
    perception: Literal["text", "image"] = Field(
        default="text", description="text: parse the observation; image: a VLM reads the map."
    )
    vlm_model: str | None = Field(default=None, description="Reads images; defaults to `model`.")
    decision_max_tokens: int = Field(default=16, gt=0)
    candidates: int = Field(
        default=3, ge=2, description="PReP: top-ranked moves the model chooses among."
    )
    perception_max_tokens: int = Field(default=160, gt=0)
    temperature: float = Field(default=0.0, ge=0)
    history: int = Field(default=10, ge=0, description="PReP: recent moves shown to the model.")
    experiences: int = Field(default=3, ge=0, description="Similar experiences retrieved.")
    loop_window: int = Field(default=12, ge=3)
    replan_shift_m: float = Field(default=80.0, gt=0, description="Goal shift that revises.")
    summarize_every: int = Field(
        default=0, ge=0, description="Model summary of the trajectory every N steps (0: off)."
    )

    @property
    def vlm(self) -> str:
        return self.vlm_model or self.model


def sampled_city(
    city_seed: int = 0, workflow: str = "navigation", **settings: float | None
) -> CityConfig:
    """The city a pipeline names: a seed plus any of occlusion, visibility_m,
    bearing_noise_deg and distance_noise (None: the default); a bad value names its input."""
    given = {name: value for name, value in settings.items() if value is not None}
    try:
        return CityConfig(seed=city_seed, **given)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "city"
        raise UsageError(f"{workflow} input {name!r}: {first['msg']}") from None


class SampledTaskInputs(BaseModel):
    """Inputs that give a task, or the seeds and settings to sample one (never both). An empty
    value (an optional pipeline input left blank) takes the field's default."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_default(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {key: value for key, value in data.items() if not _blank(value)}

    def check_task_alone(self, workflow: str) -> None:
        """A task given beside sampling inputs is refused: they would be ignored."""
        others = sorted(self.model_fields_set - {"task"})
        if others:
            raise UsageError(
                f"{workflow} input 'task': a task was given, so {', '.join(others)} would be "
                "ignored; give the task or the inputs that sample one, not both"
            )


def _blank(value: Any) -> bool:
    return isinstance(value, str) and value.strip() in ("", "None")


class NavigationInputs(SampledTaskInputs):
    """A city task, or the seeds and city settings of the task to sample."""

    task: CityTask | None = Field(default=None, description="Without one, a task is sampled.")
    city_seed: int = Field(default=0, description="Which generated city.")
    task_seed: int = Field(default=0, description="Which task in that city.")
    min_hops: int = Field(default=10, description="Shortest path of the task: at least.")
    max_hops: int = Field(default=50, description="Shortest path of the task: at most.")
    occlusion: float | None = Field(default=None, description="Chance a landmark is hidden.")
    visibility_m: float | None = Field(default=None, description="Landmark visibility radius.")
    bearing_noise_deg: float | None = Field(default=None, description="Std of bearings.")
    distance_noise: float | None = Field(default=None, description="Relative std of distances.")

    def city_task(self) -> CityTask:
        """The given task, or the first one sampled from the seeds and settings."""
        if self.task is not None:
            self.check_task_alone("navigation")
            return self.task
        city = sampled_city(
            self.city_seed, occlusion=self.occlusion, visibility_m=self.visibility_m,
            bearing_noise_deg=self.bearing_noise_deg, distance_noise=self.distance_noise,
        )  # fmt: skip
        tasks = sample_tasks(
            city, 1, seed=self.task_seed, min_hops=self.min_hops, max_hops=self.max_hops
        )
        return tasks[0]


class NavigationResult(WorkflowResult):
    strategy: str
    task_id: str
    success: bool
    steps: int
    shortest_hops: int
    step_limit: int
    spl: float
    actions: list[str]
    goal_estimate: list[float] | None = None
    fallbacks: int = Field(default=0, description="Unparseable model replies replaced by code.")
    decisions: int = Field(
        default=0,
        description="Steps with more than one exit to choose from (the model's, "
        "except under `ranked`, where code chooses).",
    )
    overrides: int = Field(
        default=0, description="PReP: choices other than the code's best-ranked move."
    )
    plan_revisions: int = 0
    loops: int = 0
    warnings: list[str] = Field(default_factory=list)
