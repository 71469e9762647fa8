"""The scenarios rgsync ships (demo, minimal): where their files are, how a command-line value
names one, reading one as a command does (a problem is a usage error, exit 2), and the email the
demo delivers between its sessions."""

from __future__ import annotations

import contextlib
import time
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from rgsync.errors import UsageError
from rgsync.sandbox import scenario as scenarios
from rgsync.sandbox.scenario import Scenario, ScenarioError

BUILT_IN_SCENARIOS = ("demo", "minimal")


def demo_scenario_file(name: str = "demo") -> Path:
    """A built-in scenario: shipped inside the package, or examples/scenarios/NAME.toml in a checkout."""
    packaged = resources.files("rgsync.sandbox").joinpath("scenarios", f"{name}.toml")
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        if packaged.is_file():
            return Path(str(packaged))
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "examples" / "scenarios" / f"{name}.toml"
        if candidate.is_file():
            return candidate
    raise UsageError(f"the built-in '{name}' scenario is missing from this installation; reinstall rgsync")


def scenario_path(given: str | Path) -> Path:
    """A scenario file as given on the command line; a built-in name (demo, minimal) when no such file."""
    path = Path(given).expanduser()
    if not path.exists() and str(given) in BUILT_IN_SCENARIOS:
        return demo_scenario_file(str(given))
    return path


def usage_error(problem: ScenarioError) -> UsageError:
    """A scenario problem as the commands report it: one line naming the file, line and field, exit 2."""
    return UsageError(problem.message)


def load_scenario(path: Path) -> Scenario:
    """Read a scenario file for a command; a problem is a `UsageError` naming the file's line."""
    try:
        return scenarios.load_scenario(path)
    except ScenarioError as exc:
        raise usage_error(exc) from None


def bob_reply(scenario: Scenario) -> EmailMessage:
    """The email the demo delivers between sessions: Bob answers the pricing thread (every mailbox kind)."""
    zone = ZoneInfo(scenario.user.time_zone)
    pricing = next((e for e in scenario.emails if e.key == "pricing"), None)
    message = EmailMessage(policy=SMTP)
    message["From"] = "Bob Baker <bob@globex.com>"
    message["To"] = f"{scenario.user.name} <{scenario.user.address}>"
    message["Subject"] = "Re: Globex renewal: signed order form"
    message["Date"] = format_datetime(datetime.now(zone))
    message["Message-ID"] = f"<demo-{int(time.time() * 1000)}@globex.com>"
    if pricing is not None:
        message["In-Reply-To"] = pricing.message_id
        message["References"] = pricing.message_id
    message.set_content("Hi Ann, the signed order form is attached. Bob")
    return message
