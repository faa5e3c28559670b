from __future__ import annotations

import numpy as np

from deepkata.core.plots import figure, integer_ticks, scale_for


def test_a_log_axis_only_when_the_values_span_a_factor_of_20():
    assert scale_for([61.5, 62.4]) == "linear"  # tabular's Q error: no decade in view
    assert scale_for([0.001, 0.1, 1.0]) == "log"
    assert scale_for([0.0, 1.0, 100.0]) == "linear"  # zero has no place on a log axis
    assert scale_for([1.0, 9.0], min_span=5) == "log"
    assert scale_for([np.nan, np.inf, 2.0, 50.0]) == "log"
    assert scale_for([]) == "linear"


def test_integer_ticks_never_show_half_an_epoch():
    fig, ax = figure()
    ax.plot([1, 2, 3], [0.5, 0.7, 0.9])
    integer_ticks(ax)
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks)
