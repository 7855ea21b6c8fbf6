"""Placement (入格): which cell, community, street and district a point lies in."""
