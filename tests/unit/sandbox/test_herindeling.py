"""Bewoning's own-gemeente check across gemeentelijke herindelingen (tabel 33, 92.12 Nieuwe code).

RvIG (BRP-API/Haal-Centraal-BRP-bewoning `features/raadpleeg-bewoning-op-peildatum/gba/
autorisatie-gba.feature`, "Regel: Een gemeente als afnemer is geautoriseerd voor het bevragen van
bewoning van een adresseerbaar object in een gemeente die is overgegaan of samengevoegd met de
afnemer gemeente"): an adresseerbaar object of a former gemeente belongs to the gemeente it merged
into, whatever the peildatum. RvIG's test set has one: AOI 0595011010012001 (Rozetuin), in
Reeuwijk (0595), which merged into Bodegraven-Reeuwijk (1901) on 2011-01-01.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import pytest

from app.brp.problems import ProblemError
from app.brp.queries import BewoningMetPeildatum
from app.sandbox.autorisatie import authorise
from app.sandbox.config import AfnemerConfig, DevSecret
from app.sandbox.dataset import Dataset, load_dataset

ROZETUIN = "0595011010012001"
# A historical fact, not a moment relative to now: the rule is about days on either side of it.
REEUWIJK_MERGED = dt.date(2011, 1, 1)
# "Whatever the peildatum": the day before Reeuwijk merged, and today.
PEILDATA = [REEUWIJK_MERGED - dt.timedelta(days=1), dt.datetime.now(dt.UTC).date()]


@cache
def _dataset() -> Dataset:
    return load_dataset()


def _gemeente(code: str) -> AfnemerConfig:
    return AfnemerConfig(
        afnemer_id="000009",
        client_id="test-gemeente",
        client_secret=DevSecret("test"),
        oin="00000001234567890000",
        gemeente_code=code,
    )


def _bewoning(aoi: str, peildatum: dt.date = PEILDATA[0]) -> BewoningMetPeildatum:
    return BewoningMetPeildatum(adresseerbaar_object_identificatie=aoi, peildatum=peildatum)


@pytest.mark.parametrize("peildatum", PEILDATA, ids=["before the merger", "today"])
def test_the_gemeente_a_former_gemeente_merged_into_may_ask(peildatum: dt.date) -> None:
    authorise(_gemeente("1901"), "1901", _bewoning(ROZETUIN, peildatum), _dataset())


@pytest.mark.parametrize("peildatum", PEILDATA, ids=["before the merger", "today"])
def test_the_former_gemeente_itself_still_may(peildatum: dt.date) -> None:
    authorise(_gemeente("0595"), "0595", _bewoning(ROZETUIN, peildatum), _dataset())


@pytest.mark.parametrize("other", ["0518", "0599", "1916"])
def test_other_gemeenten_may_not(other: str) -> None:
    with pytest.raises(ProblemError) as raised:
        authorise(_gemeente(other), other, _bewoning(ROZETUIN), _dataset())
    assert raised.value.problem.status == 403


def test_a_merged_gemeente_counts_for_every_gemeente_down_the_chain() -> None:
    # Adorp (0001) merged into Winsum (0053) in 1990, Winsum into Het Hogeland (1966) in 2019.
    authorise(_gemeente("1966"), "1966", _bewoning("0001010000000001"), _dataset())
