"""The choices a gegevensset editor offers: only what check_gegevensset accepts, in groups."""

from __future__ import annotations

from app.policy import Gegevensset, check_gegevensset
from app.policy.choices import api_choices, field_tree, parameter_choices, simplest_fields


def _all_paths() -> list[str]:
    return [path for node in field_tree() for path in node.paths()]


def test_every_offered_field_is_accepted_by_the_checker() -> None:
    paths = _all_paths()
    assert paths
    assert check_gegevensset(Gegevensset(name="alle", fields=tuple(paths))) == []


def test_fields_are_groups_with_their_sub_fields() -> None:
    naam = next(node for node in field_tree() if node.path == "naam")
    assert "naam.voornamen" in [child.path for child in naam.children]
    assert next(c for c in naam.children if c.path == "naam.voornamen").name == "voornamen"
    kinderen = next(node for node in field_tree() if node.path == "kinderen")
    kind_naam = next(child for child in kinderen.children if child.path == "kinderen.naam")
    assert "kinderen.naam.voornamen" in [child.path for child in kind_naam.children]


def test_no_field_is_offered_that_can_never_be_requested() -> None:
    paths = _all_paths()
    assert not [p for p in paths if "inOnderzoek" in p or p.startswith("gezag.")]
    # A date or Waardetabel is offered whole, never a part of it.
    assert "geboorte.datum" in paths and "geboorte.datum.jaar" not in paths
    assert len(paths) == len(set(paths))


def test_every_parameter_offered_is_one_the_checker_accepts_for_its_types() -> None:
    for choice in parameter_choices():
        assert choice.query_types
        gegevensset = Gegevensset(
            name="p",
            apis=tuple(api.api for api in api_choices()),
            query_types=choice.query_types,
            parameters=(choice.name,),
        )
        assert check_gegevensset(gegevensset) == [], choice.name
    names = [choice.name for choice in parameter_choices()]
    assert "inclusiefOverledenPersonen" not in names and "type" not in names and "fields" not in names
    assert names == sorted(names)


def test_each_api_offers_its_query_types() -> None:
    choices = {choice.api: choice.query_types for choice in api_choices()}
    assert list(choices) == ["personen", "bewoning", "verblijfplaatshistorie"]
    assert "RaadpleegMetBurgerservicenummer" in choices["personen"]
    assert choices["bewoning"] == ("BewoningMetPeildatum", "BewoningMetPeriode")


def test_simplest_fields_drops_what_a_chosen_group_already_allows() -> None:
    chosen = ["naam", "naam.voornamen", "kinderen.naam.*", "kinderen.naam.voornamen", "geboorte.datum", " "]
    assert simplest_fields(chosen) == ("geboorte.datum", "kinderen.naam.*", "naam")
    assert simplest_fields(["naam", "*", "geboorte"]) == ("*",)
    assert simplest_fields([]) == ()
