"""A reporter that records what library code reported (a uniquely named helper module)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RecordedTask:
    description: str
    total: int | None
    unit: str
    done: int = 0
    closed: bool = False

    def update(self, n: int = 1) -> None:
        self.done += n

    def close(self) -> None:
        self.closed = True


@dataclass
class RecordingReporter:
    tasks: list[RecordedTask] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def start(self, description: str, total: int | None, unit: str) -> RecordedTask:
        self.tasks.append(RecordedTask(description, total, unit))
        return self.tasks[-1]

    def note(self, message: str) -> None:
        self.notes.append(message)

    def task(self, description: str) -> RecordedTask:
        """The first task whose description starts with ``description``."""
        found = [t for t in self.tasks if t.description.startswith(description)]
        assert found, f"no task {description!r} in {[t.description for t in self.tasks]}"
        return found[0]
