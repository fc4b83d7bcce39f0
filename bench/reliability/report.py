"""Figures and goals of one scenario, printed as they are measured and kept for the summary."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Goal:
    name: str
    value: str
    target: str
    passed: bool


@dataclass
class Report:
    """What one scenario measured: free-form figures and goals that pass or fail."""

    scenario: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)

    def figure(self, name: str, value: object) -> None:
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        self.figures.append((name, text))
        print(f"  [{self.scenario}] {name}: {text}", flush=True)

    def goal(self, name: str, value: object, target: str, passed: bool) -> None:
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        self.goals.append(Goal(name, text, target, bool(passed)))
        print(f"  [{self.scenario}] {'PASS' if passed else 'FAIL'} {name}: {text} (goal {target})", flush=True)

    @property
    def ok(self) -> bool:
        return all(g.passed for g in self.goals)

    def failed(self) -> list[Goal]:
        return [g for g in self.goals if not g.passed]

    def markdown(self) -> str:
        lines = [f"### {self.scenario}", "", "| figure | value |", "|---|---|"]
        lines += [f"| {n} | {v} |" for n, v in self.figures]
        lines += ["", "| goal | value | target | result |", "|---|---|---|---|"]
        lines += [f"| {g.name} | {g.value} | {g.target} | {'PASS' if g.passed else 'FAIL'} |" for g in self.goals]
        return "\n".join(lines) + "\n"
