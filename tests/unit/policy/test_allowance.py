"""describe: what gegevenssets allow, read off the engine's grants, set by set."""

from __future__ import annotations

from app.brp import RaadpleegMetBurgerservicenummer
from app.policy import DoelbindingPolicy, Gegevensset
from app.policy.allowance import describe

NAAM = Gegevensset(
    name="alleen-naam",
    query_types=("RaadpleegMetBurgerservicenummer",),
    fields=("naam",),
    parameters=("burgerservicenummer",),
    description="Alleen de naam",
)
WIJK = Gegevensset(
    name="wijk",
    query_types=("ZoekMetPostcodeEnHuisnummer",),
    fields=("naam.*", "geboorte"),
    parameters=("postcode", "huisnummer"),
    own_residents_gemeente="0228",
    inclusief_overleden_personen=True,
)


def test_a_narrow_set_allows_one_type_its_parameter_and_its_group() -> None:
    (allowance,) = describe([NAAM]).sets
    assert allowance.gegevensset == "alleen-naam"
    assert allowance.description == "Alleen de naam"
    assert allowance.apis == ("personen",)
    assert [(qt.name, qt.parameters, qt.deceased) for qt in allowance.query_types] == [
        ("RaadpleegMetBurgerservicenummer", ("burgerservicenummer",), False)
    ]
    (fields,) = allowance.fields
    assert fields.paths == ("naam",) and not fields.everything
    # Only the response type of the one type it allows: raadplegen answers Persoon.
    assert fields.response_types == ("Persoon",)
    # What the description says is what the engine decides.
    DoelbindingPolicy([NAAM]).authorise(
        RaadpleegMetBurgerservicenummer(burgerservicenummer=("999993653",), fields=("naam",))
    )


def test_restrictions_are_stated_per_set_and_sets_do_not_mix() -> None:
    combined = describe([NAAM, WIJK])
    naam, wijk = combined.sets
    assert combined.apis == ("personen",)
    assert combined.query_types == ("RaadpleegMetBurgerservicenummer", "ZoekMetPostcodeEnHuisnummer")
    assert naam.own_residents_gemeente is None and not naam.inclusief_overleden_personen
    assert wijk.own_residents_gemeente == "0228" and wijk.inclusief_overleden_personen
    (zoek,) = wijk.query_types
    assert zoek.parameters == ("huisnummer", "postcode") and zoek.deceased
    assert {path for entry in wijk.fields for path in entry.paths} == {"naam", "geboorte"}
    assert {path for entry in naam.fields for path in entry.paths} == {"naam"}
    assert [entry.response_types for entry in wijk.fields] == [("PersoonBeperkt",)]


def test_fields_are_listed_for_the_response_types_of_the_allowed_query_types_only() -> None:
    (set_,) = describe(
        [
            Gegevensset(
                name="bsn-en-object",
                query_types=("RaadpleegMetBurgerservicenummer", "ZoekMetAdresseerbaarObjectIdentificatie"),
                fields=("naam",),
            )
        ]
    ).sets
    (fields,) = set_.fields
    assert fields.response_types == ("Persoon", "GezagPersoonBeperkt") and fields.paths == ("naam",)
    # A set of Bewoning and one Personen search: fields only for that search's answers.
    (mixed,) = describe(
        [
            Gegevensset(
                name="gemengd",
                apis=("personen", "bewoning"),
                query_types=("ZoekMetGeslachtsnaamEnGeboortedatum", "BewoningMetPeildatum"),
                fields=("geboorte",),
            )
        ]
    ).sets
    assert [(entry.response_types, entry.paths) for entry in mixed.fields] == [
        (("PersoonBeperkt",), ("geboorte",))
    ]


def test_wildcards_mean_everything() -> None:
    (alles,) = describe(
        [Gegevensset(name="alles", apis=("personen", "bewoning"), fields=("*",), parameters=("*",))]
    ).sets
    assert alles.apis == ("personen", "bewoning")
    assert len(alles.query_types) == 9
    (fields,) = alles.fields
    assert fields.everything and fields.paths == ()
    bsn = next(qt for qt in alles.query_types if qt.name == "RaadpleegMetBurgerservicenummer")
    assert bsn.parameters == ("burgerservicenummer", "gemeenteVanInschrijving")


def test_a_set_without_personen_has_no_fields_and_unknown_names_grant_nothing() -> None:
    (bewoning,) = describe([Gegevensset(name="b", apis=("bewoning",), parameters=("peildatum",))]).sets
    assert bewoning.fields == ()
    assert [qt.name for qt in bewoning.query_types] == ["BewoningMetPeildatum", "BewoningMetPeriode"]
    (unknown,) = describe([Gegevensset(name="x", apis=("bewoningen",), query_types=("Onbekend",))]).sets
    assert unknown.apis == () and unknown.query_types == ()
    assert describe([]).sets == ()
