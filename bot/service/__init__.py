"""The use cases over the ports: a message in, a timer due; each carried out in one unit of work."""

from bot.service.handled import Handled
from bot.service.strategy import StrategyService

__all__ = ["Handled", "StrategyService"]
