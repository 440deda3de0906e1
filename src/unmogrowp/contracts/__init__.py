"""The data contracts of the landing zone (SPEC §1): fields, types, rules and derived schemas."""

from unmogrowp.contracts.cost import COST_CONTRACT
from unmogrowp.contracts.events import EVENT_CONTRACT, EVENT_TYPES

__all__ = ["COST_CONTRACT", "EVENT_CONTRACT", "EVENT_TYPES"]
