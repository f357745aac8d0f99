"""GitLab: groups, projects, issues and epics through python-gitlab."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

if TYPE_CHECKING:
    import gitlab


class GitLabConnection(Block):
    """Connection to GitLab (GitLab.com, a self-managed instance, or the psflow sandbox) with a
    personal, group or project access token. Customer epics need a Premium plan."""

    _block_type_name = "GitLab Connection"
    _block_type_slug = "psflow-gitlab"
    _description = (
        "A python-gitlab client for psflow's customer groups, projects, issues and epics."
    )

    url: str = Field(
        default="https://gitlab.com",
        description="Base URL of the GitLab instance, without /api/v4, e.g. https://gitlab.com or "
        "http://127.0.0.1:8765/gitlab for the sandbox.",
    )
    token: SecretStr = Field(
        description="Access token with the `api` scope, sent as the PRIVATE-TOKEN header."
    )
    ssl_verify: bool = Field(
        default=True, description="Verify the server's TLS certificate (keep on in production)."
    )
    timeout_seconds: float = Field(default=30.0, description="Timeout of one HTTP request.")

    def get_client(self) -> gitlab.Gitlab:
        """The configured client; it does not contact the server until the first call.

        `keep_base_url` keeps paging on the configured URL even if the server advertises another
        external URL. psflow's tasks own the retry policy (backoff, jitter, Retry-After) for 429s,
        5xx and timeouts: they turn python-gitlab's own off on every request
        (`tasks.gitlab.NO_LIBRARY_RETRIES`), as a second layer would multiply the attempts and
        hide the throttling.
        """
        import gitlab  # loaded with the client, not with the Block

        return gitlab.Gitlab(
            url=self.url.rstrip("/"),
            private_token=self.token.get_secret_value(),
            ssl_verify=self.ssl_verify,
            timeout=self.timeout_seconds,
            keep_base_url=True,
        )
