"""Writers do not widen a large output: ``to_dtype`` keeps an array of its dtype, rounds floats in their own."""

from __future__ import annotations

import numpy as np

from zoo.data.writers import to_dtype


def test_an_array_of_the_target_dtype_is_written_as_is():
    sr = np.arange(12, dtype=np.uint16).reshape(3, 4)
    assert to_dtype(sr, np.uint16) is sr  # was: a float64 copy (4x the output), clipped, cast back


def test_rounding_and_clipping_are_those_of_float64():
    g = np.random.default_rng(0)
    values = np.concatenate([g.uniform(-10, 70000, 1000), [0.5, 1.5, 2.5, -0.5, 65535.4, 65535.6]])
    for dtype in (np.float32, np.float64):
        array = values.astype(dtype)
        expected = np.clip(np.rint(array.astype(np.float64)), 0, 65535).astype(np.uint16)
        np.testing.assert_array_equal(to_dtype(array, np.uint16), expected)
    ints = np.array([-5, 0, 300, 70000], dtype=np.int64)
    np.testing.assert_array_equal(to_dtype(ints, np.uint8), [0, 0, 255, 255])
    np.testing.assert_array_equal(to_dtype(np.array([True, False]), np.uint8), [1, 0])
