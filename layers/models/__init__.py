from layers.models.areas import CODE_LENGTH, PARENT_TIER, PARENT_TIERS, Area, AreaPiece, Tier
from layers.models.base import (
    Address,
    Building,
    Component,
    ComponentState,
    EntityStatus,
    LegalEntity,
    Person,
    PersonType,
    Placed,
)
from layers.models.catalogue import Category, CategoryKind, LimitUnit
from layers.models.org import Role, Staff, Unit, UnitKind

__all__ = [
    "CODE_LENGTH",
    "PARENT_TIER",
    "PARENT_TIERS",
    "Address",
    "Area",
    "AreaPiece",
    "Building",
    "Category",
    "CategoryKind",
    "Component",
    "ComponentState",
    "EntityStatus",
    "LegalEntity",
    "LimitUnit",
    "Person",
    "PersonType",
    "Placed",
    "Role",
    "Staff",
    "Tier",
    "Unit",
    "UnitKind",
]
