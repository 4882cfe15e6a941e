"""What every use case works with: the configuration, the ports and the policy the rules take."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.config.schema import Config
from bot.domain.decisions import Policy, Role
from bot.domain.model import Case
from bot.domain.trust import domain_allowed
from bot.domain.working_days import WorkingDays
from bot.mail.rendering import MailRenderer
from bot.ports import Store, StrategyCalendar


def policy_for(config: Config, days: WorkingDays) -> Policy:
    """The policy values the rules take, all from the configuration (its defaults in one place)."""
    return Policy(
        schedule=config.schedule,
        timers=config.timers,
        days=days,
        tz=config.bot.timezone,
        urgent=config.urgent.settings,
        recipient_domains=tuple(config.trust.recipient_domains),
        max_minutes_attachment_bytes=config.privacy.max_minutes_attachment_bytes,
        receiving_authority_domains=config.privacy.receiving_authority_domains,
        close_after_days=config.cases.close_after_days,
    )


@dataclass
class Setup:
    """The configuration and ports, built once by wiring and shared by the use cases."""

    config: Config
    store: Store
    calendar: StrategyCalendar
    renderer: MailRenderer
    days: WorkingDays
    policy: Policy = field(init=False)

    def __post_init__(self) -> None:
        self.policy = policy_for(self.config, self.days)

    @property
    def tz(self) -> ZoneInfo:
        return self.config.bot.timezone

    @property
    def police_domain(self) -> str:
        return self.config.people.referral_unit.rsplit("@", 1)[1]

    def address_of(self, role: Role) -> str:
        people = self.config.people
        return {
            Role.DUTY_DS: people.duty_ds,
            Role.REFERRAL_UNIT: people.referral_unit,
            Role.ADMIN_SUPPORT: people.admin_support,
            Role.MASH_SERVICE_MANAGER: self.config.urgent.mash_service_manager,
        }[role]

    def allowed_recipient(self, address: str) -> bool:
        return domain_allowed(address, self.config.trust.recipient_domains)

    def allowed_recipient_for(self, case: Case | None) -> Callable[[str], bool]:
        """Allowed recipients of a case's emails: the trusted domains, and a moved family's receiving
        authority while its domain is still a configured receiving authority domain (§5)."""
        receiving = case.details.receiving_authority if case is not None else ()
        domains = self.config.privacy.receiving_authority_domains

        def allowed(address: str) -> bool:
            return self.allowed_recipient(address) or (address in receiving and domain_allowed(address, domains))

        return allowed
