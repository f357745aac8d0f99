"""The people the handbook names by role, as Salesforce knows them: the PS Project Coordinators
who approve staffing, the Sr. PSEs and Technical Architects who choose the PSE, the Project
Managers who may own a project; found by their users' titles."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict


class User(BaseModel):
    """A Salesforce user: who a role or an e-mail address is."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    email: str
    title: str = ""
    time_zone: str | None = None


class Staff(BaseModel):
    """Who may fill each role of the staffing decision."""

    model_config = ConfigDict(frozen=True)

    coordinators: tuple[User, ...]  # approve (or accommodate) the staffing
    architects: tuple[User, ...]  # choose the PSE (Sr. PSE or Technical Architect)
    project_managers: tuple[User, ...]  # may own the project, as a PSE may

    @classmethod
    def of(
        cls,
        users: Iterable[User],
        *,
        coordinator_title: str,
        architect_titles: Iterable[str],
        project_manager_title: str,
        coordinator_email: str = "",
    ) -> Staff:
        """The roles among `users` by title; a named coordinator (the settings') replaces the
        title's.

        Example:
            >>> pc = User(id="005A", name="Priya", email="priya@x.example", title="PC")
            >>> ta = User(id="005B", name="Hiro", email="hiro@x.example", title="TA")
            >>> Staff.of([pc, ta], coordinator_title="PC", architect_titles=["TA"],
            ...          project_manager_title="PM").architects == (ta,)
            True
        """
        people = list(users)
        titled = {title.casefold() for title in architect_titles}
        if coordinator_email:
            coordinators = [u for u in people if u.email.casefold() == coordinator_email.casefold()]
        else:
            coordinators = [u for u in people if u.title.casefold() == coordinator_title.casefold()]
        return cls(
            coordinators=tuple(coordinators),
            architects=tuple(u for u in people if u.title.casefold() in titled),
            project_managers=tuple(
                u for u in people if u.title.casefold() == project_manager_title.casefold()
            ),
        )

    def coordinator(self, email: str) -> User | None:
        return next((u for u in self.coordinators if u.email.casefold() == email.casefold()), None)
