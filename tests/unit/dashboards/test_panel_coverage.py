"""Every panel of every dashboard returns data against a real Prometheus in one of the two
tests that evaluate them all (issue 17): the simulated fleet's
(``tests/integration/test_dashboards_and_alerts.py``: every panel but its ``NO_DATA_HERE``) or
the namespace lab's (``tests/lab/test_monitoring_lab.py``: every panel but its
``NO_DATA_IN_LAB`` and, depending on the module's order and length,
``MAY_HAVE_NO_DATA_IN_LAB``). Each of those tests asserts that no other panel is empty,
so the union of the panels with data is the whole catalog when no panel is on a list of
both: this check needs neither Prometheus.
"""

from __future__ import annotations

from netwarden.dashboards import catalog
from tests.integration.dashboard_stack import NO_DATA_HERE
from tests.lab.test_monitoring_lab import MAY_HAVE_NO_DATA_IN_LAB, NO_DATA_IN_LAB

TITLES = {panel.title for dash in catalog.dashboards() for panel in dash.panels()}


def test_the_lists_name_panels_of_the_catalog() -> None:
    for listed in (NO_DATA_HERE, NO_DATA_IN_LAB, MAY_HAVE_NO_DATA_IN_LAB):
        assert listed.keys() <= TITLES, sorted(listed.keys() - TITLES)
    assert NO_DATA_IN_LAB.keys() & MAY_HAVE_NO_DATA_IN_LAB.keys() == set()


def test_no_panel_is_without_data_in_both_labs() -> None:
    both = {
        title: (NO_DATA_HERE[title], NO_DATA_IN_LAB[title])
        for title in NO_DATA_HERE.keys() & NO_DATA_IN_LAB.keys()
    }
    assert both == {}, both


def test_no_panel_may_be_without_data_in_both_labs() -> None:
    """A panel whose data in the lab depends on timing must have data in the simulator."""
    both = {
        title: (NO_DATA_HERE[title], MAY_HAVE_NO_DATA_IN_LAB[title])
        for title in NO_DATA_HERE.keys() & MAY_HAVE_NO_DATA_IN_LAB.keys()
    }
    assert both == {}, both
