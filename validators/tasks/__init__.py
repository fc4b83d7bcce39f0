"""Task generators for validator challenges: exact task families and composed open prompts.

Both draw everything from the ``random.Random`` they are given, so the same state gives the same tasks.
"""

from validators.tasks.exact import FAMILIES, ExactTask, exact_task
from validators.tasks.open_prompts import open_prompt
from validators.tasks.text import SYSTEM_PROMPTS

__all__ = ["FAMILIES", "SYSTEM_PROMPTS", "ExactTask", "exact_task", "open_prompt"]
