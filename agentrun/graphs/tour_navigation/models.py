"""Tour navigation's config, inputs and result."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agentrun.agents.config import LOCAL_MODEL
from agentrun.graphs.base import WorkflowResult
from agentrun.graphs.navigation.models import SampledTaskInputs, sampled_city
from agentrun.graphs.tour_navigation.tour import TourTask, sample_tour_tasks


class TourConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = LOCAL_MODEL
    frames: Literal["captions", "images"] = Field(
        default="captions", description="images: each frame's map image too (needs a VLM)."
    )
    max_tokens: int = Field(default=8, gt=0)
    temperature: float = Field(default=0.0, ge=0)


class TourInputs(SampledTaskInputs):
    """A tour task, or the seeds and settings of the tour task to sample."""

    task: TourTask | None = Field(default=None, description="Without one, a task is sampled.")
    city_seed: int = Field(default=0, description="Which generated city.")
    task_seed: int = Field(default=0, description="Which tour and instruction in that city.")
    radius_m: float = Field(default=300.0, description="Radius of the toured neighbourhood.")
    occlusion: float | None = Field(default=None, description="Chance a landmark is hidden.")
    visibility_m: float | None = Field(default=None, description="Landmark visibility radius.")

    def tour_task(self) -> TourTask:
        """The given task, or the first one sampled from the seeds and settings."""
        if self.task is not None:
            self.check_task_alone("tour-navigation")
            return self.task
        city = sampled_city(
            self.city_seed, "tour-navigation", occlusion=self.occlusion,
            visibility_m=self.visibility_m,
        )  # fmt: skip
        return sample_tour_tasks(city, 1, seed=self.task_seed, radius_m=self.radius_m)[0]


class TourResult(WorkflowResult):
    task_id: str
    instruction: str
    start_frame: int
    chosen_frame: int
    goal_frames: list[int]
    frame_correct: bool
    success: bool
    steps: int
    fallback: bool = Field(description="The reply named no frame; the agent stayed put.")
