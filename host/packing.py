"""Stream packing: the one definition of how values become AXI4-Stream beats and bytes.

A frame's values (row-major, see compile/layers/base.py) are cut into beats of `per_beat`
values; value i of a beat sits at bits [i*bits, (i+1)*bits) of tdata (element 0 in the least
significant bits), two's complement for signed types. A beat is padded with zero bits to whole
bytes and sent little-endian: byte 0 of a beat holds tdata[7:0]. This is what the RTL top,
the HLS top, the simulator's testbench and the PYNQ DMA buffers all use.
"""

from __future__ import annotations

import numpy as np


def beat_bytes(bits: int, per_beat: int) -> int:
    return -(-bits * per_beat // 8)


def pack_beats(values: np.ndarray, bits: int, per_beat: int) -> np.ndarray:
    """(N, n_values) ints → (N, n_values // per_beat, beat_bytes) uint8."""
    values = np.asarray(values, dtype=np.int64)
    n, count = values.shape
    if count % per_beat:
        raise ValueError(f"{count} values per frame do not fill beats of {per_beat}")
    beats = count // per_beat
    if bits in (8, 16, 32, 64):
        # whole-byte values fill whole-byte beats: a beat is its values' little-endian bytes in
        # order (the general path below gives the same bytes, ~50x slower: the board's hot path)
        raw = values.astype(np.dtype(f"<u{bits // 8}"))  # two's complement wrap, as the mask
        return np.ascontiguousarray(raw).view(np.uint8).reshape(n, beats, per_beat * bits // 8)
    raw = (values & ((1 << bits) - 1)).astype(np.uint64)
    # bit matrix (N, beats, per_beat*bits), element-major, LSB first within each element
    shifts = np.arange(bits, dtype=np.uint64)
    bitmat = ((raw[..., None] >> shifts) & np.uint64(1)).astype(np.uint8)
    bitmat = bitmat.reshape(n, beats, per_beat * bits)
    nbytes = beat_bytes(bits, per_beat)
    padded = np.zeros((n, beats, nbytes * 8), dtype=np.uint8)
    padded[..., : per_beat * bits] = bitmat
    return np.packbits(padded, axis=-1, bitorder="little")


def unpack_beats(data: np.ndarray, bits: int, per_beat: int, signed: bool) -> np.ndarray:
    """(N, beats, beat_bytes) uint8 → (N, beats * per_beat) int64; the inverse of pack_beats."""
    data = np.asarray(data, dtype=np.uint8)
    n, beats, _ = data.shape
    bitmat = np.unpackbits(data, axis=-1, bitorder="little")[..., : per_beat * bits]
    bitmat = bitmat.reshape(n, beats * per_beat, bits).astype(np.int64)
    values = (bitmat << np.arange(bits, dtype=np.int64)).sum(axis=-1)
    if signed:
        values = np.where(values >= (1 << (bits - 1)), values - (1 << bits), values)
    return values


def beats_to_ints(data: np.ndarray) -> list[int]:
    """(beats, beat_bytes) uint8 → Python ints (tdata values), for testbenches."""
    return [int.from_bytes(bytes(b), "little") for b in np.asarray(data, dtype=np.uint8)]


def ints_to_beats(words: list[int], nbytes: int) -> np.ndarray:
    return np.array([list(w.to_bytes(nbytes, "little")) for w in words], dtype=np.uint8).reshape(
        len(words), nbytes
    )
