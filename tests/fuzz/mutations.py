"""Hypothesis strategies that damage bytes the way transfers and attackers do."""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def mutated(draw: st.DrawFn, original: bytes, focus: int = 256) -> bytes:
    """``original`` with a few bytes flipped, inserted or removed (mostly in its first ``focus`` bytes),
    then perhaps truncated."""
    data = bytearray(original)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, max(0, min(len(data), focus) - 1)))
        action = draw(st.sampled_from(["flip", "set", "insert", "delete"]))
        if action == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "set" and data:
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, draw(st.integers(0, 255))]))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[at : at + draw(st.integers(1, 8))]
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)
