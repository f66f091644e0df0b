"""Small helpers shared by the feature connectors."""
from typing import List, Sequence, Union


def per_level(value: Union[int, Sequence[int]], num_levels: int,
              name: str) -> List[int]:
    """Expand an int, or check a sequence, into one int per level.

    Args:
        value (int | Sequence[int]): One value for every level, or one per
            level (ordered fine to coarse).
        num_levels (int): Number of feature levels L.
        name (str): Argument name used in error messages.

    Returns:
        list[int]: L positive ints.
    """
    if isinstance(value, int):
        values = [value] * num_levels
    else:
        values = [int(v) for v in value]
        if len(values) != num_levels:
            raise ValueError(
                f'{name} has {len(values)} entries but num_levels is '
                f'{num_levels}')
    if any(v <= 0 for v in values):
        raise ValueError(f'{name} must be positive, got {values}')
    return values
